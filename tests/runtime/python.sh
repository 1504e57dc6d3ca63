#!/bin/sh
# Runtime test: a Python asyncio program under `stallscope run`. The fixture times its own
# planted stalls; the trace must hold stalls of those lengths, the sleep caught as a call,
# and the program must behave exactly as it does without the tool.
# Exit status follows the automake test driver: 0 pass, 1 fail, 77 skip, 99 harness error.

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
runtime_setup python3 tests/fixtures/python/stall.py

# Timings differ from run to run; everything else the program prints must not.
untimed() {
    sed 's/^\(planted [^ ]*\) .*/\1/' "$1"
}

python3 "$fixture" >"$tmp/plain" 2>"$tmp/plain.err" || {
    echo "ERROR: the fixture fails without stallscope:"
    cat "$tmp/plain" "$tmp/plain.err"
    exit 99
}

"$stallscope" run -q -o "$tmp/run" -- python3 "$fixture" >"$tmp/out" 2>"$tmp/err"
status=$?
[ "$status" -eq 0 ] || fail "python3 exited with status $status under stallscope"
untimed "$tmp/plain" >"$tmp/plain.untimed"
untimed "$tmp/out" >"$tmp/out.untimed"
cmp -s "$tmp/plain.untimed" "$tmp/out.untimed" ||
    fail "stdout differs under stallscope: $(diff "$tmp/plain.untimed" "$tmp/out.untimed")"
program_stderr "$tmp/err" >"$tmp/err.program"
cmp -s "$tmp/plain.err" "$tmp/err.program" ||
    fail "stderr differs under stallscope: $(diff "$tmp/plain.err" "$tmp/err.program")"

"$stallscope" export --format json "$tmp/run" >"$tmp/run.json" || fail "export failed"

python3 - "$tmp/run.json" "$tmp/out" <<'EOF' || fail "the trace does not show the planted stalls"
import json
import re
import sys

json_path, out_path = sys.argv[1:3]
with open(json_path) as f:
    run = json.load(f)
planted = {}
with open(out_path) as f:
    for line in f:
        m = re.fullmatch(r"planted (\S+) ([0-9.]+)\n?", line)
        if m:
            planted[m[1]] = float(m[2])

problems = []


def expect(ok, what):
    if not ok:
        problems.append(what)


def near(ns, ms):
    # The stall is the whole iteration, so it also holds the task switch around the call.
    return ms is not None and abs(ns / 1e6 - ms) <= max(ms * 0.1, 5)


SLEEPS = {"nanosleep", "clock_nanosleep", "usleep", "sleep"}
sleep_ms = planted.get("blocking_sleep")
cpu_ms = planted.get("cpu_loop")
expect(sleep_ms and cpu_ms, "the fixture did not report its stalls")
expect(len(run["processes"]) == 1, f"expected 1 process, got {len(run['processes'])}")
# asyncio runs on the main thread, whose tid is the pid.
stalls = [s for p in run["processes"] for s in p["stalls"] if s["tid"] == p["pid"]]

# Python 3.11 native stacks name the interpreter, not the Python functions, so the sleep is
# recognised by the call the shim caught it in.
expect(any(near(s["duration_ns"], sleep_ms) and
           any(x["source"] == "call" and x["call"] in SLEEPS and near(x["call_ns"], sleep_ms)
               for x in s["samples"])
           for s in stalls),
       f"no stall of ~{sleep_ms} ms caught in a sleep call")
expect(any(near(s["duration_ns"], cpu_ms) and s["samples"] for s in stalls),
       f"no sampled stall of ~{cpu_ms} ms for cpu_loop")

for p in problems:
    print(p)
sys.exit(1 if problems else 0)
EOF
