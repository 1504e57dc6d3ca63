#!/bin/sh
# A stall spent reading a memory-mapped file in from disk is told apart from work on CPU: its
# split counts the thread's major page faults, and its causes give the time off CPU that no
# call explains to page-faults. Skipped, with a message, where the file system keeps the file
# in memory whatever the test asks (then there is no major fault to see).
# Exit status follows the automake test driver: 0 pass, 1 fail, 77 skip, 99 harness error.
# shellcheck source=../lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"
fixture=$SS_BUILDDIR/tests/fixtures/hung-fixture
need_built "$stallscope" "$fixture"
scratch

"$stallscope" run -q -o "$tmp/run" -- "$fixture" faults "$tmp/data" 32 >"$tmp/out" 2>"$tmp/err" ||
    { echo "FAIL: the run failed: $(cat "$tmp/out" "$tmp/err")"; exit 1; }
rm -f "$tmp/data"
set -- $(sed -n 's/^planted faults //p' "$tmp/out")
if [ $# -ne 3 ]; then
    echo "ERROR: the fixture did not report its faults: $(cat "$tmp/out" "$tmp/err")"
    exit 99
fi
ms=$1 tid=$2 faults=$3
if [ "$faults" -lt 1000 ] || [ "${ms%.*}" -lt 100 ]; then
    echo "SKIP: reading the dropped file took ${ms} ms and $faults major faults: this file system keeps it in memory"
    exit 77
fi
"$stallscope" export --format json -o "$tmp/run.json" "$tmp/run" || { echo "FAIL: export failed"; exit 1; }
python3 - "$tmp/run.json" "$tid" "$faults" <<'PY' || { "$stallscope" report "$tmp/run"; exit 1; }
import json
import sys

run = json.load(open(sys.argv[1]))
tid, faults = int(sys.argv[2]), int(sys.argv[3])
stalls = [s for p in run["processes"] for s in p["stalls"] if s["tid"] == tid]
problems = []
if len(stalls) != 1 or not stalls[0]["split"]:
    problems.append(f"{len(stalls)} stalls of thread {tid}, not one with its split")
else:
    s = stalls[0]
    counted = s["split"]["major_faults"]
    # The monitor counts from the stall's detection, a threshold after its start.
    if counted is None or not faults // 2 <= counted <= faults:
        problems.append(f"{counted} major faults in the split, the fixture saw {faults}")
    parts = {x["cause"]: x["ns"] for x in s["cause"]["parts"]}
    if parts.get("page-faults", 0) < s["duration_ns"] // 7:
        problems.append(f"page-faults is not a large part of the stall: {s['cause']}")
for p in problems:
    print("FAIL:", p)
if not problems:
    print(f"ok: {faults} major faults seen, the stall's cause: {stalls[0]['cause']['name']}")
sys.exit(1 if problems else 0)
PY
