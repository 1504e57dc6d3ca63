#!/bin/sh
# A process that ends before the monitor it started answers: what it recorded is written all
# the same, for the shim hands its segment over at exit. The monitor is made late: the shim
# runs the `stallscope` one directory above its own, here a script that runs the real one only
# once the program's loop is over (the program says so with a file), so that the only way left
# is the hand-over at exit.
# Exit status follows the automake test driver: 0 pass, 1 fail, 77 skip, 99 harness error.
# shellcheck source=../lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"
fixture=$SS_BUILDDIR/tests/fixtures/stall-storm
need_built "$stallscope" "$shim" "$fixture"
scratch
# The monitor outlives the program by 2 s: it goes with the test.
cleanup() {
    pkill -f -- "-o $tmp/run" 2>/dev/null
    rm -rf "$tmp"
}
mkdir -p "$tmp/lib/.libs" && cp "$shim" "$tmp/lib/.libs/" || exit 99
cat >"$tmp/lib/stallscope" <<SCRIPT || exit 99
#!/bin/sh
for _ in \$(seq 500); do
    [ -e "$tmp/loop-over" ] && break
    sleep 0.01
done
exec "$stallscope" "\$@"
SCRIPT
chmod 755 "$tmp/lib/stallscope" || exit 99

LD_PRELOAD="$tmp/lib/.libs/libstallscope.so" STALLSCOPE_OPTIONS="output=$tmp/run,threshold=10ms" \
    "$fixture" 5 30000 "$tmp/loop-over" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" -eq 0 ] && grep -qx 'stalls 5' "$tmp/out" ||
    fail "the program failed under the shim ($rc): $(cat "$tmp/out" "$tmp/err")"
[ -s "$tmp/err" ] && fail "the shim said something: $(cat "$tmp/err")"
# The monitor writes once it has the segment; its run ends 2 s after its last process.
for _ in $(seq 100); do
    "$stallscope" report "$tmp/run" >"$tmp/report" 2>&1 && grep -q '^  stalls: 4 ' "$tmp/report" && break
    sleep 0.1
done
if grep -q '^  stalls: 4 ' "$tmp/report"; then
    ok "a process that ended before its monitor answered has its stalls written"
else
    fail "the 4 stalls of a process that ended before its monitor answered are not in its run:" \
        "$(cat "$tmp/report")"
fi
[ "$failures" -eq 0 ]
