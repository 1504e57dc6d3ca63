#!/bin/sh
# A loop thread that shares its only CPU with a busy process is starved, not slow: a spin of
# 600 ms of the clock, pinned to one CPU beside a process that never yields it, spends much of
# its stall waiting for the CPU, and its causes give that time to starved, not to its code.
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
