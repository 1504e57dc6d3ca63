#!/bin/sh
# Every wrong invocation and every bad input gets one clear line on stderr and status 2; the
# traced command's own status comes back through `run`.
set -u
# shellcheck source=../lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"
FIXTURE="$SS_BUILDDIR/tests/fixtures/loop-fixture-O2"
scratch

mkdir "$tmp/empty"
printf 'this is not a trace' >"$tmp/garbage.trace"
printf 'STLSC' >"$tmp/short.trace"
# A good run to derive damaged copies from.
"$stallscope" run -q -o "$tmp/run" -- "$FIXTURE" --spin 80 >/dev/null || { echo "cannot record"; exit 99; }
good=$(ls "$tmp"/run/stallscope-*.trace | head -1)
{ head -c 16 "$good"; printf '\377\377\377\377\377\377\377\377'; } >"$tmp/corrupt.trace"
{ head -c 8 "$good"; printf '\011\000\000\000'; tail -c +13 "$good"; } >"$tmp/version.trace"

stallscope_exits 2 'no command given'
stallscope_exits 2 "unknown command 'frobnicate'" frobnicate
stallscope_exits 0 '' --help
stallscope_exits 2 'No such file' report "$tmp/missing"
stallscope_exits 2 'no trace files' report "$tmp/empty"
stallscope_exits 2 'not a stallscope trace' report "$tmp/garbage.trace"
stallscope_exits 2 'not a stallscope trace' report "$tmp/short.trace"
stallscope_exits 2 'corrupt record at offset 16' report "$tmp/corrupt.trace"
stallscope_exits 2 'trace version 9' export --format json "$tmp/version.trace"
stallscope_exits 2 "unknown option '--bogus'" report --bogus "$tmp/run"
stallscope_exits 2 "--top: expected a positive number" report --top zero "$tmp/run"
stallscope_exits 2 "--frames: expected 'user' or 'all'" report --frames bogus "$tmp/run"
stallscope_exits 2 "--frames: expected 'user' or 'all'" export --format json --frames none "$tmp/run"
stallscope_exits 2 '--format is required' export "$tmp/run"
stallscope_exits 2 "unknown format 'yaml'" export --format yaml "$tmp/run"
stallscope_exits 2 'cannot write /dev/full' export --format json -o /dev/full "$tmp/run"
stallscope_exits 2 'cannot write' export --format json -o "$tmp/missing/out.json" "$tmp/run"
# Each exporter and check report says why it could not write, not only that it could not.
for format in json folded speedscope chrome pprof; do
    stallscope_exits 2 'cannot write /dev/full: No space left on device' export --format $format -o /dev/full "$tmp/run"
done
stallscope_exits 2 'cannot write /dev/full: No space left on device' check --max-stall 10s --junit /dev/full "$tmp/run"
stallscope_exits 2 'cannot write /dev/full: No space left on device' check --max-stall 10s --sarif /dev/full "$tmp/run"
stallscope_exits 2 "invalid duration 'fast'" run --threshold fast -- true
stallscope_exits 2 "option '--interval' needs a value" run --interval
stallscope_exits 2 'no command given' run -q
stallscope_exits 2 'may not exceed --threshold' run --threshold 10ms --interval 20ms -- true
stallscope_exits 0 '' run -q -o "$tmp/r5" --threshold 5ms -- true
stallscope_exits 127 'cannot run /nonexistent/command' run -q -o "$tmp/r2" -- /nonexistent/command
stallscope_exits 3 '' run -q -o "$tmp/r3" -- sh -c 'exit 3'
stallscope_exits 143 '' run -q -o "$tmp/r4" -- sh -c 'kill -TERM $$'

# check: every bad rule, allowlist, baseline or run is a usage or input error, before any run.
printf 'call:getaddrinfo\nfunc:load\n' >"$tmp/bad.allow"
printf 'max-stall 100ms\nforbid disk\n' >"$tmp/bad.rules"
printf 'not-a-fingerprint\n' >"$tmp/bad.baseline"
stallscope_exits 2 'check: no rule given' check "$tmp/run"
stallscope_exits 2 "unknown category 'disk'" check --forbid disk "$tmp/run"
stallscope_exits 2 'budget: expected CATEGORY=CALLS' check --budget file "$tmp/run"
stallscope_exits 2 "invalid duration 'soon'" check --max-stall soon "$tmp/run"
stallscope_exits 2 'bad.allow:2: expected TYPE:PATTERN' check --forbid file --allow "$tmp/bad.allow" "$tmp/run"
stallscope_exits 2 'bad.rules:2: forbid: unknown category' check --rules "$tmp/bad.rules" "$tmp/run"
stallscope_exits 2 'bad.baseline:1: expected a fingerprint' check --forbid file --baseline "$tmp/bad.baseline" "$tmp/run"
stallscope_exits 2 'missing.allow: No such file' check --forbid file --allow "$tmp/missing.allow" "$tmp/run"
stallscope_exits 2 "unknown cause 'cpu-gc'" check --forbid-cause cpu-gc "$tmp/run"
stallscope_exits 2 "unknown cause 'slow'" check --max-stall 1s --ignore-cause starved,slow "$tmp/run"
stallscope_exits 2 "unknown cause 'blocked:files'" check --forbid-cause blocked:files "$tmp/run"
stallscope_exits 2 'forbid-cause: expected causes' check --max-stall 1s --forbid-cause '' "$tmp/run"
stallscope_exits 2 "budget: unknown cause 'cpu:JSON'" check --budget cpu:JSON=1s "$tmp/run"
stallscope_exits 2 "a cause's budget is a duration" check --budget cpu:gc=soon "$tmp/run"
printf 'cpu gc\n' >"$tmp/bad.causes"
stallscope_exits 2 "bad.causes:1: expected 'cpu KIND PATTERN'" report --causes "$tmp/bad.causes" "$tmp/run"
stallscope_exits 2 'missing.causes: No such file' export --format json --causes "$tmp/missing.causes" "$tmp/run"
stallscope_exits 2 'check: no rule given' check --causes "$tmp/bad.causes" "$tmp/run"
stallscope_exits 2 'No such file' check --forbid file "$tmp/missing"
stallscope_exits 2 "unknown option '--frobnicate'" check --frobnicate "$tmp/run"
stallscope_exits 0 '' check --max-stall 10s "$tmp/run"
stallscope_exits 1 '' check --max-stall 10ms "$tmp/run"
stallscope_exits 2 'run: allowlist' run -q -o "$tmp/r6" --forbid file --allow "$tmp/bad.allow" -- true
stallscope_exits 2 'no trace files' run -q -o "$tmp/r7" --check --forbid file -- true
stallscope_exits 3 '' run -q -o "$tmp/r8" --check --forbid file -- sh -c 'exit 3'

# A report that cannot be written is an error too, not a silent success.
"$stallscope" report "$tmp/run" >/dev/full 2>"$tmp/err"
if [ $? -ne 2 ] || ! grep -q 'cannot write standard output' "$tmp/err"; then
    echo "FAIL: report to a full disk was not reported"
    failures=$((failures + 1))
fi
if ! grep -q 'No space left on device' "$tmp/err"; then
    echo "FAIL: report to a full disk did not say why: $(cat "$tmp/err")"
    failures=$((failures + 1))
fi

[ "$failures" -eq 0 ]
