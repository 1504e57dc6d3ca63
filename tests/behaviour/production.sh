#!/bin/sh
# Production mode: a loop that stalls 600 times under --max-size 64k --max-files 3 keeps at
# most 3 trace files of about a third of 64 KiB each, while it runs and at its end; each file
# reads alone; the run reads as one process whose report counts the stalls kept and those of
# the files rotation deleted, 600 in all. Then --max-stacks 5: no more than 5 stacks a second
# are taken, yet every stall is reported, and the stacks not taken are counted.
# Exit status follows the automake test driver: 0 pass, 1 fail, 77 skip, 99 harness error.
# shellcheck source=../lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"
fixture=$SS_BUILDDIR/tests/fixtures/loop-fixture-O2
need_built "$stallscope" "$fixture"
skip_unless python3
scratch

# The largest number of trace files, and the largest file, seen while the run goes on.
watch_run() {
    most_files=0 largest=0
    while [ ! -e "$tmp/done" ]; do
        n=0
        for f in "$tmp/run"/stallscope-*.trace; do
            [ -e "$f" ] || continue
            n=$((n + 1))
            size=$(stat -c %s "$f" 2>/dev/null || echo 0)
            [ "$size" -gt "$largest" ] && largest=$size
        done
        [ "$n" -gt "$most_files" ] && most_files=$n
        sleep 0.05
    done
    echo "$most_files $largest" >"$tmp/watched"
}
watch_run &
watcher=$!
"$stallscope" run -q -o "$tmp/run" --max-size 64k --max-files 3 --threshold 5ms --interval 1ms \
    -- "$fixture" --spin 8 --repeat 600 >"$tmp/out" 2>"$tmp/err"
rc=$?
touch "$tmp/done"
wait "$watcher"
[ "$rc" -eq 0 ] || { echo "FAIL: the run failed: $(cat "$tmp/out" "$tmp/err")"; exit 1; }
read -r most_files largest <"$tmp/watched"
files=$(find "$tmp/run" -name 'stallscope-*.trace' | wc -l)
# A file passes its share (64 KiB / 3) by at most what one look of the monitor writes.
[ "$files" -le 3 ] && [ "$most_files" -le 3 ] ||
    fail "$files trace files at the end, $most_files at most while running: more than 3"
[ "$largest" -le 32768 ] || fail "a trace file of $largest bytes, far past 64k / 3"
ok "$files files at the end, at most $most_files while running, the largest $largest bytes"
for f in "$tmp/run"/stallscope-*.trace; do
    "$stallscope" report "$f" >"$tmp/alone" 2>&1 || fail "$(basename "$f") does not read alone: $(cat "$tmp/alone")"
    # The last file may have begun after the last spin.
    grep -q "^  stalls: " "$tmp/alone" && ! grep -q plant_spin "$tmp/alone" &&
        fail "$(basename "$f") alone names no frame of the spin"
done
"$stallscope" report "$tmp/run" >"$tmp/report" || fail "report failed"
"$stallscope" export --format json -o "$tmp/run.json" "$tmp/run" || fail "export failed"
"$stallscope" check --max-stall 1s "$tmp/run" >/dev/null 2>&1
[ $? -le 1 ] || fail "check cannot read the rotated run"
python3 - "$tmp/run.json" "$tmp/report" <<'PY' || fail "the rotated run as one process"
import json, re, sys
run = json.load(open(sys.argv[1]))
report = open(sys.argv[2]).read()
procs = run["processes"]
assert len(procs) == 1, f"{len(procs)} processes, not one"
p = procs[0]
deleted = p["drops"].get("deleted_by_rotation")
assert deleted and deleted["files"] >= 2, f"no files deleted by rotation: {p['drops']}"
kept = len(p["stalls"])
# The fixture's 600 spins, and perhaps a few more where a busy machine kept an iteration from
# the CPU past the threshold, or at start-up and exit; a few stall ends may be lost to a full
# queue, counted among the dropped events (which count lost calls too).
seen = kept + deleted["stalls"]
assert seen <= 610, f"{kept} stalls kept + {deleted['stalls']} deleted: {seen}, more than 600"
assert seen + p["drops"]["events"] >= 600, f"{seen} stalls and {p['drops']['events']} dropped events: fewer than 600"
m = re.search(r"stalls: (\d+) \(worst \d+ shown; (\d+) more in trace files deleted", report)
assert m and int(m[1]) == kept and int(m[2]) == deleted["stalls"], "the report's stall count"
assert "rotation: " in report, "the report does not say what rotation deleted"
print(f"ok: {kept} stalls kept, {deleted['stalls']} in {deleted['files']} deleted files")
PY

"$stallscope" run -q -o "$tmp/budget" --max-stacks 5 --threshold 5ms --interval 1ms \
    -- "$fixture" --spin 8 --repeat 300 >"$tmp/out" 2>"$tmp/err" ||
    { echo "FAIL: the budgeted run failed: $(cat "$tmp/out" "$tmp/err")"; exit 1; }
"$stallscope" export --format json -o "$tmp/budget.json" "$tmp/budget" || fail "export failed"
"$stallscope" report "$tmp/budget" >"$tmp/report" || fail "report failed"
grep -q 'sampling budget: [0-9]* stacks not taken' "$tmp/report" ||
    fail "the report does not say that stacks were not taken"
python3 - "$tmp/budget.json" <<'PY' || fail "the sampling budget"
import json, sys
p = json.load(open(sys.argv[1]))["processes"][0]
stalls = p["stalls"]
assert len(stalls) >= 300, f"{len(stalls)} stalls reported of 300"
times = sorted(s["start_ns"] + x["offset_ns"] for s in stalls for x in s["samples"])
# The budget counts seconds from a stack taken: any second holds at most two budgets' worth.
worst = max(sum(1 for t in times[i:] if t - times[i] < 1e9) for i in range(len(times)))
assert worst <= 10, f"{worst} samples within one second, budget 5"
span = (times[-1] - times[0]) / 1e9 if times else 0
assert len(times) <= 5 * (span + 2), f"{len(times)} samples in {span:.1f}s"
assert p["drops"].get("samples_skipped", 0) > 0, "no stack counted as not taken"
print(f"ok: {len(stalls)} stalls, {len(times)} samples in {span:.1f}s, at most {worst} in a second")
PY

# A long stall in a file rotation deleted still fails `check --max-stall`: its stacks are gone,
# but not the fact.
"$stallscope" run -q -o "$tmp/long" --max-size 32k --max-files 2 --threshold 5ms --interval 1ms \
    -- "$fixture" --sleep 300 --spin 8 --repeat 400 >"$tmp/out" 2>"$tmp/err" ||
    { echo "FAIL: the run with a long stall failed: $(cat "$tmp/out" "$tmp/err")"; exit 1; }
"$stallscope" check --max-stall 100ms "$tmp/long" >"$tmp/check" 2>&1
status=$?
if "$stallscope" report "$tmp/long" | grep -q "rotation: "; then
    if [ "$status" -eq 1 ] && grep -q "over max-stall .* deleted by rotation" "$tmp/check"; then
        ok "check fails on a stall over max-stall that rotation deleted"
    else
        fail "check --max-stall 100ms -> $status: $(cat "$tmp/check")"
    fi
else
    fail "the run with a long stall did not rotate its first file away"
fi
[ "$failures" -eq 0 ]
