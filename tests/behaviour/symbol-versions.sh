#!/bin/sh
# Symbol versions: a caller bound to an old version of a function the shim interposes reaches
# that version, and no interposer calls a function the C library does not have.
#
# 1. The audit: every function the shim exports is checked against the C library's dynamic
#    symbol table. An unversioned interposer is reached by callers bound to any version of its
#    name, and reaches the default one: every version of the name must be the same function
#    (one address), and a default must exist. An interposer exported under a version must
#    find that version in the C library.
# 2. A program bound to old versions (tests/fixtures/oldsyms) prints the same with and without
#    the shim, and its calls made in a loop iteration are recorded under their names.
# 3. The shim makes no dlsym or dlvsym call while the program runs.
# Exit status follows the automake test driver: 0 pass, 1 fail, 77 skip, 99 harness error.
set -u
# shellcheck source=../lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"
FIXTURE="$SS_BUILDDIR/tests/fixtures/oldsyms/old-symbols"
need_built "$shim" "$FIXTURE" "$SS_BUILDDIR/tests/fixtures/oldsyms/libcount-lookups.so"
skip_unless objdump
LIBC=$(ldd "$FIXTURE" | awk '$1 == "libc.so.6" {print $3}')
[ -f "$LIBC" ] || { echo "cannot find the C library of $FIXTURE"; exit 99; }
scratch

# "name version hidden address" for every definition in the C library; hidden is 1 for a
# version only old binaries can be bound to.
objdump -T "$LIBC" | awk 'NF >= 6 && $4 != "*UND*" && $(NF - 1) ~ /GLIBC/ {
    v = $(NF - 1); hidden = v ~ /^\(/; gsub(/[()]/, "", v); print $NF, v, hidden, $1 }' \
    >"$tmp/libc"
# "name version default" for every function the shim exports ("-" for no version), but for its
# own entry points, which attach calls (stallscope_attach, stallscope_detach).
nm -D --defined-only "$shim" | awk '($2 == "T" || $2 == "W") && $3 !~ /^stallscope_/ {
    n = $3; v = "-"; d = 1
    if (index(n, "@@")) { split(n, p, "@@"); n = p[1]; v = p[2] }
    else if (index(n, "@")) { split(n, p, "@"); n = p[1]; v = p[2]; d = 0 }
    print n, v, d }' >"$tmp/shim"
[ -s "$tmp/libc" ] && [ -s "$tmp/shim" ] || { echo "cannot read the symbol tables"; exit 99; }

checked=0
while read -r name version default; do
    checked=$((checked + 1))
    defs=$(awk -v n="$name" '$1 == n' "$tmp/libc")
    if [ -z "$defs" ]; then
        fail "$name is interposed but the C library has no such function"
        continue
    fi
    if [ "$version" = - ]; then
        printf '%s\n' "$defs" | awk '$3 == 0' | grep -q . ||
            fail "$name: the C library has only old versions of it, and the interposer is unversioned:" \
                "it would look up a default that does not exist"
        addresses=$(printf '%s\n' "$defs" | awk '{print $4}' | sort -u | wc -l)
        [ "$addresses" -eq 1 ] ||
            fail "$name: its versions are different functions ($(printf '%s\n' "$defs" |
                awk '{printf "%s ", $2}')), and an unversioned interposer sends every caller to the default"
    else
        printf '%s\n' "$defs" | awk -v v="$version" -v d="$default" '$2 == v && $3 == 1 - d' |
            grep -q . || fail "$name@$version: the C library has no such version (or not as default)"
    fi
done <"$tmp/shim"
[ "$checked" -gt 100 ] || fail "only $checked interposers found"

# 2. The same output with and without the shim, from a program bound to old versions. It runs
# in the script's directory: the old posix_spawnp hands /bin/sh the name as given.
printf 'exit 7\n' >"$tmp/script" && chmod 755 "$tmp/script" || exit 99
(cd "$tmp" && exec "$FIXTURE" "$tmp") >"$tmp/plain" 2>&1
plain=$?
(cd "$tmp" && LD_PRELOAD="$shim" STALLSCOPE_OPTIONS="output=$tmp/run" exec "$FIXTURE" "$tmp") \
    >"$tmp/traced" 2>&1
traced=$?
[ "$plain" -eq 0 ] || fail "old-symbols fails without the shim ($plain): $(cat "$tmp/plain")"
[ "$traced" -eq "$plain" ] || fail "old-symbols exits with $traced under the shim, $plain without"
diff -u "$tmp/plain" "$tmp/traced" || fail "old-symbols prints something else under the shim"

# 3. Once started, the shim looks nothing up: its interposers, those of the condition
# variables included, found their functions at start-up, and one the C library lacks is not
# looked up again at every call.
COUNTER="$SS_BUILDDIR/tests/fixtures/oldsyms/libcount-lookups.so"
(cd "$tmp" && LD_PRELOAD="$shim $COUNTER" STALLSCOPE_OPTIONS="output=$tmp/run-counted" \
    exec "$FIXTURE" "$tmp") >"$tmp/counted" 2>&1
grep -qx 'lookups 0' "$tmp/counted" ||
    fail "lookups while the program ran: $(grep lookups "$tmp/counted" || tail -3 "$tmp/counted")"

# The calls made in the loop iteration are recorded, under the names the program called.
if [ "$traced" -eq 0 ]; then
    "$SS_BUILDDIR/stallscope" export --format json "$tmp/run" >"$tmp/run.json" 2>"$tmp/export.err" ||
        fail "export failed: $(cat "$tmp/export.err")"
    for call in '"__res_query"' '"__res_search"' '"pthread_cond_wait"' '"pthread_cond_timedwait"' \
        '"clock_nanosleep"'; do
        grep -q "\"function\": *$call" "$tmp/run.json" || fail "no call site of $call recorded"
    done
fi
echo "$checked interposers checked against $LIBC, $failures problems"
[ "$failures" -eq 0 ]
