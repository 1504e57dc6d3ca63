#!/bin/sh
# Runtime test: Python programs whose waits are not all their event loop's (socket timeouts,
# HTTP requests and subprocess output before asyncio.run(), two asyncio.run() calls, work
# after the loop, a pool of workers polling sockets). Each mode must run exactly as without
# the tool, and its trace must hold the planted stalls and nothing else: no stall spanning
# the work outside the loops, no worker taken for a loop thread.
# Exit status follows the automake test driver: 0 pass, 1 fail, 77 skip, 99 harness error.

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
runtime_setup python3 tests/fixtures/python/loops.py

failures=0
for mode in before-loop two-runs after-run workers; do
    python3 "$fixture" "$mode" >"$tmp/plain" 2>"$tmp/plain.err" || {
        echo "ERROR: the fixture fails without stallscope in mode $mode:"
        cat "$tmp/plain" "$tmp/plain.err"
        exit 99
    }
    rm -rf "$tmp/run"
    "$stallscope" run -q -o "$tmp/run" -- python3 "$fixture" "$mode" >"$tmp/out" 2>"$tmp/err"
    status=$?
    [ "$status" -eq 0 ] || fail "$mode: python3 exited with status $status under stallscope"
    program_stderr "$tmp/err" >"$tmp/err.program"
    cmp -s "$tmp/plain.err" "$tmp/err.program" ||
        fail "$mode: stderr differs under stallscope: $(diff "$tmp/plain.err" "$tmp/err.program")"
    "$stallscope" export --format json "$tmp/run" >"$tmp/run.json" || fail "$mode: export failed"
    python3 - "$mode" "$tmp/run.json" "$tmp/out" <<'EOF' || failures=$((failures + 1))
import json
import re
import sys

mode, json_path, out_path = sys.argv[1:4]
with open(json_path) as f:
    run = json.load(f)
planted, unlooped = [], []
with open(out_path) as f:
    for line in f:
        m = re.fullmatch(r"(planted|unlooped) (\S+) ([0-9.]+) ([0-9]+)\n?", line)
        if m:
            (planted if m[1] == "planted" else unlooped).append((m[2], float(m[3]), int(m[4])))

problems = []


def expect(ok, what):
    if not ok:
        problems.append(f"{mode}: {what}")


procs = [p for p in run["processes"] if "loops.py" in p["command"]]
expect(len(procs) == 1, f"expected the fixture's one trace, got {len(procs)}")
proc = procs[0] if procs else {"stalls": [], "threads": [], "pid": 0}
stalls = proc["stalls"]
expect(planted or mode == "after-run", "the fixture reported no planted stall")


# The stall holds the planted work and the rest of its iteration (printing the line, the
# timer's own work), which a loaded machine stretches; it never holds less than the work.
def near(ns, ms):
    return ms * 0.95 <= ns / 1e6 <= ms * 1.25 + 30


for name, ms, tid in planted:
    matching = [s for s in stalls if s["tid"] == tid and near(s["duration_ns"], ms)]
    expect(len(matching) == 1, f"planted {name} of {ms} ms: {len(matching)} stalls of that length")


# A loaded machine can stretch any iteration past the threshold; such a stall spent most of
# its time waiting for a CPU, which the work outside the loops (a spin) never does.
def machine_made(s):
    split = s.get("split") or {}
    return split.get("window_ns", 0) > 0 and split.get("runnable_ns", 0) * 2 >= split["window_ns"]


stalls = [s for s in stalls if not machine_made(s) or any(near(s["duration_ns"], ms) for _, ms, _ in planted)]
shown = ", ".join(f"{s['duration_ns'] / 1e6:.0f} ms on {s['tid']}" for s in stalls)
expect(len(stalls) == len(planted),
       f"{len(stalls)} stalls ({shown}) for {len(planted)} planted; the work outside the "
       f"loops ({', '.join(n for n, _, _ in unlooped) or 'none'}) is not a stall")
loop_tids = sorted(t["tid"] for t in proc["threads"] if t["loop"] and t["iterations"])
expect(loop_tids == [proc["pid"]],
       f"the loop threads are {loop_tids}, not just asyncio's main thread {proc['pid']}")

for p in problems:
    print(p)
sys.exit(1 if problems else 0)
EOF
done
[ "$failures" -eq 0 ] || fail "$failures of 4 modes are wrong"
exit 0
