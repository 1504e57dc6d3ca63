#!/bin/sh
# A loop thread that shares its only CPU with a busy process is starved, not slow: a spin of
# 600 ms of the clock, pinned to one CPU beside a process that never yields it, spends much of
# its stall waiting for the CPU, and its causes give that time to starved, not to its code.
# Then the same spin under a cgroup's CPU limit: starved, and the limit named as why.
# Exit status follows the automake test driver: 0 pass, 1 fail, 77 skip, 99 harness error.
# shellcheck source=../lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"
fixture=$SS_BUILDDIR/tests/fixtures/hung-fixture
need_built "$stallscope" "$fixture"
skip_unless taskset
scratch

cpu=$(taskset -pc $$ | sed 's/.*: //; s/[-,].*//')
taskset -c "$cpu" sh -c 'while :; do :; done' &
hog=$!
trap 'kill $hog 2>/dev/null; cleanup' EXIT
"$stallscope" run -q -o "$tmp/run" -- taskset -c "$cpu" "$fixture" spin 600 >"$tmp/out" 2>"$tmp/err"
rc=$?
kill "$hog"
[ "$rc" -eq 0 ] || { echo "FAIL: the run failed: $(cat "$tmp/out" "$tmp/err")"; exit 1; }
"$stallscope" export --format json -o "$tmp/run.json" "$tmp/run" || { echo "FAIL: export failed"; exit 1; }
tid=$(sed -n 's/^planted spin [0-9.]* //p' "$tmp/out")
python3 - "$tmp/run.json" "$tid" <<'PY' || { "$stallscope" report "$tmp/run"; exit 1; }
import json
import sys

run = json.load(open(sys.argv[1]))
stalls = [s for p in run["processes"] for s in p["stalls"] if s["tid"] == int(sys.argv[2])]
if len(stalls) != 1:
    print(f"FAIL: {len(stalls)} stalls of the spinning thread, not one")
    sys.exit(1)
s = stalls[0]
parts = {x["cause"]: x["ns"] for x in s["cause"]["parts"]}
starved = parts.get("starved", 0)
if starved < s["duration_ns"] // 5:
    print(f"FAIL: starved is {starved / 1e6:.0f} ms of a {s['duration_ns'] / 1e6:.0f} ms stall: {s['cause']}")
    sys.exit(1)
print(f"ok: starved {starved / 1e6:.0f} ms of {s['duration_ns'] / 1e6:.0f} ms; cause {s['cause']['name']}")
PY

# The same spin in a cgroup whose CPU limit is a fifth of one CPU: the time it waits is the
# limit's, which the stall's split and its starved part say. cgroup v1's cpu hierarchy or v2's
# unified tree, whichever lets a cgroup be made here; skipped with a message otherwise.
limited=
for root in /sys/fs/cgroup/cpu /sys/fs/cgroup; do
    dir=$root/stallscope-test-$$
    if mkdir "$dir" 2>/dev/null; then
        if [ -e "$dir/cpu.cfs_quota_us" ] && echo 20000 >"$dir/cpu.cfs_quota_us" 2>/dev/null; then
            limited=$dir
            break
        elif [ -e "$dir/cpu.max" ] && echo "20000 100000" >"$dir/cpu.max" 2>/dev/null; then
            limited=$dir
            break
        fi
        rmdir "$dir"
    fi
done
if [ -z "$limited" ]; then
    echo "SKIP (cgroup part): no cgroup with a CPU limit can be made here"
    exit 0
fi
trap 'rmdir "$limited" 2>/dev/null; cleanup' EXIT
"$stallscope" run -q -o "$tmp/run-cg" -- sh -c 'echo $$ >"$1/cgroup.procs" && exec "$2" spin 600' \
    _ "$limited" "$fixture" >"$tmp/out-cg" 2>"$tmp/err-cg" ||
    { echo "FAIL: the run in a cgroup failed: $(cat "$tmp/out-cg" "$tmp/err-cg")"; exit 1; }
"$stallscope" export --format json -o "$tmp/run-cg.json" "$tmp/run-cg" || { echo "FAIL: export failed"; exit 1; }
tid=$(sed -n 's/^planted spin [0-9.]* //p' "$tmp/out-cg")
python3 - "$tmp/run-cg.json" "$tid" <<'PY' || { "$stallscope" report "$tmp/run-cg"; exit 1; }
import json
import sys

run = json.load(open(sys.argv[1]))
stalls = [s for p in run["processes"] for s in p["stalls"] if s["tid"] == int(sys.argv[2])]
if len(stalls) != 1 or not stalls[0]["split"]:
    print(f"FAIL: {len(stalls)} stalls of the spinning thread, not one with its split")
    sys.exit(1)
s = stalls[0]
held = s["split"]["throttled_ns"]
starved = [x for x in s["cause"]["parts"] if x["cause"] == "starved"]
problems = []
if held is None or held < 100_000_000:
    problems.append(f"the split says the cgroup was throttled for {held} ns")
if not starved or starved[0]["ns"] < s["duration_ns"] // 5:
    problems.append(f"starved is not a large part of the stall: {s['cause']}")
elif "cgroup's CPU limit" not in (starved[0]["where"] or ""):
    problems.append(f"the starved part does not name the cgroup's limit: {starved[0]}")
for p in problems:
    print("FAIL:", p)
if not problems:
    print(f"ok: throttled {held / 1e6:.0f} ms; starved: {starved[0]['where']}")
sys.exit(1 if problems else 0)
PY
