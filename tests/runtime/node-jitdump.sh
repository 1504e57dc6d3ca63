#!/bin/sh
# Runtime test: JavaScript frames named from a jitdump file only. Node.js runs with --perf-prof
# (which writes jit-PID.dump into its working directory) under `stallscope run --no-jit-maps`,
# so no perf map exists; the run must keep a copy of the dump, and report and export must name
# the fixture's busy function from that copy alone, and no longer once it is gone.
# Exit status follows the automake test driver: 0 pass, 1 fail, 77 skip, 99 harness error.

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
function=jitdumpSpinUntil
runtime_setup node tests/fixtures/node/jitdump.js

fail() {
    echo "FAIL: $*"
    echo "--- output"
    cat "$tmp/out"
    echo "--- run directory"
    ls -l "$tmp/run"
    exit 1
}

mkdir "$tmp/cwd" || exit 99
touch "$tmp/started"
(cd "$tmp/cwd" &&
    NODE_OPTIONS="--perf-prof --interpreted-frames-native-stack" \
        exec "$stallscope" run -q --no-jit-maps -o "$tmp/run" -- node "$fixture") \
    >"$tmp/out" 2>&1 || fail "node failed under stallscope"

set -- "$tmp"/run/stallscope-*.trace
[ -f "$1" ] || fail "no trace written"
pid=${1##*/stallscope-}
pid=${pid%.trace}
[ -s "$tmp/run/jit-$pid.dump" ] || fail "the run kept no copy of jit-$pid.dump"
[ -e "$tmp/run/perf-$pid.map" ] && fail "a perf map was written despite --no-jit-maps"
# One an earlier process of the same pid left (the machine's other runs) is not this one's.
[ -n "$(find "/tmp/perf-$pid.map" -newer "$tmp/started" 2>/dev/null)" ] &&
    fail "node wrote /tmp/perf-$pid.map despite --no-jit-maps"

# Only the run's copy is left to name the function.
rm -f "$tmp/cwd/jit-$pid.dump"
"$stallscope" report "$tmp/run" >"$tmp/report" 2>&1 || fail "report failed"
grep -q "JS:[*~^]$function " "$tmp/report" ||
    fail "the report does not name $function: $(cat "$tmp/report")"
"$stallscope" export --format folded -o "$tmp/folded" "$tmp/run" || fail "export failed"
grep -q ";JS:[*~^]$function " "$tmp/folded" ||
    fail "the folded export does not name $function: $(head -c 2000 "$tmp/folded")"

# The name came from the dump: without it the frame stays unnamed.
rm "$tmp/run/jit-$pid.dump"
"$stallscope" report "$tmp/run" >"$tmp/report" 2>&1 || fail "report without the dump failed"
grep -q "$function" "$tmp/report" && fail "$function named without any dump or map"
exit 0
