#!/bin/sh
# A loop stuck for good, in a mutex another thread holds or in a read of a pipe nobody writes
# to, is diagnosed while it hangs: 2 s into the hang, the trace already holds the stall in
# progress, the call it is blocked in and the stack of that call; after the process is killed
# the trace still reads the same. A loop whose process is stopped for 1 s in the middle of an
# iteration has that second labelled as the process being stopped. A stall in an epoll loop's
# very first iteration is recorded and sampled.
# Exit status follows the automake test driver: 0 pass, 1 fail, 99 harness error.
# shellcheck source=../lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"
fixture=$SS_BUILDDIR/tests/fixtures/hung-fixture
need_built "$stallscope" "$fixture"
scratch

problem() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

# until_line FILE PATTERN: waits (at most 10 s) for a line of FILE to match PATTERN.
until_line() {
    for _ in $(seq 200); do
        grep -q "$2" "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

# blocked RUN TID CALL FUNCTION WHEN: the JSON export of RUN has a stall of TID in progress,
# sampled in CALL with FUNCTION on the stack.
blocked() {
    "$stallscope" export --format json "$1" >"$tmp/run.json" || {
        problem "$5: export failed"
        return
    }
    python3 - "$tmp/run.json" "$2" "$3" "$4" "$5" <<'EOF' || failures=$((failures + 1))
import json
import sys

path, tid, call, function, when = sys.argv[1:6]
run = json.load(open(path))
stalls = [s for p in run["processes"] for s in p["stalls"] if s["tid"] == int(tid)]
problems = []
if len(stalls) != 1 or not stalls[0]["in_progress"]:
    problems.append(f"{len(stalls)} stalls of thread {tid}, not one in progress")
else:
    s = stalls[0]
    if s["duration_ns"] < 1500_000_000:
        problems.append(f"the stall lasted {s['duration_ns'] / 1e6:.0f} ms so far")
    inside = [x for x in s["samples"] if x.get("call") == call]
    if not inside:
        problems.append(f"no sample in {call}(): {[x.get('call') for x in s['samples']][:5]}")
    elif not any(f.get("symbol") == function for x in inside for f in x["frames"]):
        problems.append(f"no sample in {call}() has {function} on its stack")
    if len(s["samples"]) > 100:
        problems.append(f"{len(s['samples'])} samples of one unchanging call in 2 s")
for p in problems:
    print(f"FAIL: {call}, {when}: {p}")
sys.exit(1 if problems else 0)
EOF
}

for case in "mutex pthread_mutex_lock lock_forever" "pipe read read_forever"; do
    set -- $case
    mode=$1 call=$2 function=$3
    run=$tmp/run-$mode
    "$stallscope" run -q -o "$run" -- "$fixture" "$mode" >"$tmp/$mode.out" 2>"$tmp/$mode.err" &
    runner=$!
    if ! until_line "$tmp/$mode.out" '^hanging '; then
        problem "$mode: the fixture never hung: $(cat "$tmp/$mode.out" "$tmp/$mode.err")"
        kill "$runner"
        continue
    fi
    tid=$(sed -n 's/^hanging //p' "$tmp/$mode.out")
    sleep 2
    blocked "$run" "$tid" "$call" "$function" "while it hangs"
    "$stallscope" report "$run" >"$tmp/$mode.report" 2>&1
    grep -Eq "(blocked in $call\(\)|inside the system call $call) .*still blocked" "$tmp/$mode.report" ||
        problem "$mode: the report does not say the loop is still blocked in $call():
$(cat "$tmp/$mode.report")"
    kill -KILL "$tid"
    wait "$runner"
    blocked "$run" "$tid" "$call" "$function" "after it was killed"
done

# spin_stall CASE RUN_JSON FIXTURE_OUT: the fixture's one planted spin is one stall of its
# thread; CASE says what else it must show ("stop": the second it was stopped, and stopped as
# its cause; "first": a sample in the spin, though it was the loop's first iteration, and the
# spin's own code as a cause).
spin_stall() {
    python3 - "$@" <<'EOF' || failures=$((failures + 1))
import json
import re
import sys

case, json_path, out_path = sys.argv[1:4]
run = json.load(open(json_path))
m = re.search(r"^planted spin ([0-9.]+) ([0-9]+)$", open(out_path).read(), re.M)
problems = []
if not m:
    problems.append("the fixture did not report its spin")
else:
    ms, tid = float(m[1]), int(m[2])
    stalls = [s for p in run["processes"] for s in p["stalls"] if s["tid"] == tid]
    lasted = [s["duration_ns"] / 1e6 for s in stalls]
    if case == "stop":
        if len(stalls) != 1 or abs(lasted[0] - ms) > ms * 0.1:
            problems.append(f"{len(stalls)} stalls, not one of {ms:.0f} ms")
        else:
            stopped = stalls[0].get("paused", {}).get("stopped_ns", 0) / 1e6
            if not 800 <= stopped <= 1200:
                problems.append(f"stopped for {stopped:.0f} ms of the stall, not about 1000")
            if stalls[0]["cause"]["name"] != "stopped":
                problems.append(f"its cause is {stalls[0]['cause']['name']}, not stopped")
    elif len(stalls) != 1 or not ms * 0.95 <= lasted[0] <= ms * 1.25 + 30:
        problems.append(f"{lasted} ms of stalls, not one of {ms:.0f}")
    elif not any(f.get("symbol") == "spin_iteration" for x in stalls[0]["samples"] for f in x["frames"]):
        problems.append("no sample of the stall has spin_iteration on its stack")
    elif not any(x["cause"] == "cpu:code" and "spin_iteration" in (x["where"] or "")
                 for x in stalls[0]["cause"]["parts"]):
        problems.append(f"no cpu:code part in spin_iteration: {stalls[0]['cause']['parts']}")
for p in problems:
    print(f"FAIL: {case}: {p}")
sys.exit(1 if problems else 0)
EOF
}

# The process stopped for 1 s during a 1.5 s iteration.
"$stallscope" run -q -o "$tmp/run-stop" -- "$fixture" spin 1500 >"$tmp/stop.out" 2>"$tmp/stop.err" &
runner=$!
if until_line "$tmp/stop.out" '^spinning '; then
    pid=$(sed -n 's/^spinning //p' "$tmp/stop.out")
    sleep 0.2
    kill -STOP "$pid"
    sleep 1
    kill -CONT "$pid"
fi
wait "$runner" || problem "stop: the run failed: $(cat "$tmp/stop.out" "$tmp/stop.err")"
"$stallscope" export --format json "$tmp/run-stop" >"$tmp/stop.json" || problem "stop: export failed"
spin_stall stop "$tmp/stop.json" "$tmp/stop.out"

# A stall in an epoll loop's very first iteration: the loop is the thread's from its first
# wait, so the stall is there, sampled like any other.
"$stallscope" run -q -o "$tmp/run-first" -- "$fixture" first-spin 300 >"$tmp/first.out" 2>"$tmp/first.err" ||
    problem "first: the run failed: $(cat "$tmp/first.out" "$tmp/first.err")"
"$stallscope" export --format json "$tmp/run-first" >"$tmp/first.json" || problem "first: export failed"
spin_stall first "$tmp/first.json" "$tmp/first.out"

[ "$failures" -eq 0 ] || exit 1
exit 0
