#!/bin/sh
# The pprof export read by go tool pprof: a run of the C fixture with a planted spin and a
# planted sleep names plant_spin and plant_sleep with the stalled time the folded export gives
# them, and its samples carry their thread, pid, cause and blocking call. A run that cannot be
# read is one clear line and status 2. go tool pprof reads local files without the network.
# Exit status follows the automake test driver: 0 pass, 1 fail, 77 skip, 99 harness error.
set -u
# shellcheck source=../lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"
fixture=$SS_BUILDDIR/tests/fixtures/loop-fixture-O2
need_built "$stallscope" "$fixture"
if ! command -v go >/dev/null 2>&1; then
    echo "SKIP: go (golang-go) not installed"
    exit 77
fi
scratch
# Go keeps its caches under HOME unless told: all of it goes to the scratch directory.
HOME=$tmp/home GOCACHE=$tmp/go-cache GOPATH=$tmp/go-path
export HOME GOCACHE GOPATH
mkdir -p "$HOME" || exit 99

"$stallscope" run -q -o "$tmp/run" --threshold 20ms --interval 1ms -- \
    "$fixture" --spin 120 --sleep 150 --repeat 3 >"$tmp/out" 2>"$tmp/err" ||
    { echo "FAIL: the run failed: $(cat "$tmp/out" "$tmp/err")"; exit 1; }
"$stallscope" export --format folded -o "$tmp/stalls.folded" "$tmp/run" || fail "export folded"
"$stallscope" export --format pprof -o "$tmp/stalls.pb.gz" "$tmp/run" || fail "export pprof"
"$stallscope" export --format pprof -o - "$tmp/run" >"$tmp/stdout.pb.gz" || fail "export pprof -o -"
cmp -s "$tmp/stalls.pb.gz" "$tmp/stdout.pb.gz" || fail "-o - writes other bytes than -o FILE"
gzip -t "$tmp/stalls.pb.gz" || fail "the pprof export is not gzipped"

# Stalled time in microseconds: all of it, and that of the stacks through a function.
go tool pprof -top -cum -nodefraction=0 -nodecount=1000 -unit=us "$tmp/stalls.pb.gz" \
    >"$tmp/top" 2>"$tmp/top.err" || { fail "go tool pprof -top: $(cat "$tmp/top.err")"; exit 1; }
go tool pprof -traces "$tmp/stalls.pb.gz" >"$tmp/traces" 2>"$tmp/traces.err" ||
    { fail "go tool pprof -traces: $(cat "$tmp/traces.err")"; exit 1; }
grep -q '^Type: stalled-time$' "$tmp/top" || fail "the default sample type is not stalled-time"
pprof_total=$(sed -n 's/.*Total samples = \([0-9.]*\)us.*/\1/p' "$tmp/top")
folded_total=$(awk '{ s += $NF } END { print s }' "$tmp/stalls.folded")
# pprof_cum FUNCTION: its cumulative time in -top, in microseconds.
pprof_cum() {
    awk -v f="$1" '$NF == f { v = $4; sub(/us$/, "", v); print v; exit }' "$tmp/top"
}
# folded_cum FUNCTION: the time of the folded lines through it.
folded_cum() {
    awk -v f="$1" '{ n = split($1, fr, ";"); for (i = 1; i <= n; i++) if (fr[i] == f) { s += $NF; break } }
        END { print s + 0 }' "$tmp/stalls.folded"
}
# agree WHAT PPROF FOLDED: equal within the folded export's rounding to whole microseconds,
# one per line, and at least one.
lines=$(wc -l <"$tmp/stalls.folded")
agree() {
    if [ -z "$2" ] || ! awk -v a="$2" -v b="$3" -v n="$lines" \
        'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= n + 1) }'; then
        fail "$1: ${2:-nothing} us in pprof, $3 us in the folded export"
    else
        ok "$1: $2 us in pprof, $3 us in the folded export"
    fi
}
agree "stalled time in all" "$pprof_total" "$folded_total"
for f in plant_spin plant_sleep nanosleep; do
    agree "stalled time through $f" "$(pprof_cum $f)" "$(folded_cum $f)"
done
# The planted spins are most of the stalled time (3 x 120 ms against one 150 ms sleep).
spin=$(pprof_cum plant_spin)
awk -v s="${spin:-0}" -v t="${pprof_total:-1}" 'BEGIN { exit !(s / t > 0.5) }' ||
    fail "plant_spin has ${spin:-no} us of ${pprof_total:-no} us, not the most"

# Each stall is counted once, under the stack of its longest span: the spins' stalls under
# plant_spin, the sleep's under nanosleep, and in all as many as the stalls that have samples.
go tool pprof -top -cum -sample_index=stalls -nodefraction=0 -nodecount=1000 \
    "$tmp/stalls.pb.gz" >"$tmp/stalls.top" 2>&1 || fail "go tool pprof -sample_index=stalls"
count_of() {
    awk -v f="$1" '$NF == f { print $4; exit }' "$tmp/stalls.top"
}
spins=$(count_of plant_spin) sleeps=$(count_of nanosleep)
if [ "${spins:-0}" -ge 3 ] && [ "${sleeps:-0}" -ge 1 ]; then
    ok "plant_spin counts $spins stalls, nanosleep $sleeps"
else
    fail "plant_spin counts ${spins:-no} stalls (want 3 or more), nanosleep ${sleeps:-no} (want 1)"
fi
counted=$(sed -n 's/.*Total samples = \([0-9]*\).*/\1/p' "$tmp/stalls.top")
"$stallscope" export --format json -o "$tmp/run.json" "$tmp/run" || fail "export json"
if command -v python3 >/dev/null 2>&1; then
    sampled=$(python3 -c 'import json, sys
run = json.load(open(sys.argv[1]))
print(sum(1 for p in run["processes"] for s in p["stalls"] if s["samples"]))' "$tmp/run.json")
    if [ "$counted" = "$sampled" ]; then
        ok "$counted stalls in all, as many as have samples"
    else
        fail "${counted:-no} stalls in pprof, $sampled with samples in the JSON export"
    fi
fi

# Summarised stalls keep their time and count by stack: with one stall kept in detail, the
# profile's figures by function are the same.
"$stallscope" export --format pprof --keep-stalls 1 -o "$tmp/kept.pb.gz" "$tmp/run" ||
    fail "export pprof --keep-stalls 1"
for index in stalled-time stalls; do
    for f in "$tmp/stalls.pb.gz" "$tmp/kept.pb.gz"; do
        go tool pprof -top -cum -sample_index=$index -nodefraction=0 -nodecount=1000 "$f" \
            2>&1 | sed -n '/flat%/,$p' >"$f.$index"
    done
    if cmp -s "$tmp/stalls.pb.gz.$index" "$tmp/kept.pb.gz.$index" &&
        [ -s "$tmp/kept.pb.gz.$index" ]; then
        ok "$index by function: the same with every stall but one summarised"
    else
        fail "$index by function differs with every stall but one summarised:"
        diff "$tmp/stalls.pb.gz.$index" "$tmp/kept.pb.gz.$index" | sed 's/^/    /'
    fi
done

# Labels: every sample has its thread and pid; the sleep's, its call and cause.
before=$failures
grep -qE '^ +thread: +[^ ]' "$tmp/traces" || fail "no thread label in -traces"
grep -qE '^ +pid: +[0-9]+$' "$tmp/traces" || fail "no pid label in -traces"
grep -qE '^ +cause: +cpu:' "$tmp/traces" || fail "no cpu cause label in -traces"
awk '/^-+\+/ { call = cause = 0 } /^ +call: +nanosleep$/ { call = 1 }
    /^ +cause: +blocked:sleep$/ { cause = 1 } / plant_sleep$/ && call && cause { found = 1 }
    END { exit !found }' "$tmp/traces" ||
    fail "no sample of plant_sleep labelled call: nanosleep and cause: blocked:sleep"
[ "$failures" -eq "$before" ] && ok "go tool pprof -traces shows each sample's labels"

# A run that cannot be read: one line that says why, status 2, and no profile.
stallscope_exits 2 'No such file' export --format pprof -o "$tmp/none.pb.gz" "$tmp/missing"
printf 'this is not a trace' >"$tmp/garbage.trace"
stallscope_exits 2 'not a stallscope trace' export --format pprof -o "$tmp/bad.pb.gz" \
    "$tmp/garbage.trace"
if [ -e "$tmp/none.pb.gz" ] || [ -e "$tmp/bad.pb.gz" ]; then
    fail "a profile was written for a run that cannot be read"
fi
stallscope_exits 2 'cannot write /dev/full: No space left on device' export --format pprof \
    -o /dev/full "$tmp/run"
[ "$failures" -eq 0 ]
