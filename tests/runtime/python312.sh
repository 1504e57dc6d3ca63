#!/bin/sh
# Runtime test: Python functions named in stacks. Python 3.12 and later write a perf map of
# trampolines, one per Python function, when `stallscope run` asks them to; the stalls of the
# fixture must then name cpu_loop and blocking_sleep, as interpreter frames with their script.
# Needs a python3.12 (or the interpreter named by SS_PYTHON312) and skips visibly without one.
# Exit status follows the automake test driver: 0 pass, 1 fail, 77 skip, 99 harness error.

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
: "${SS_PYTHON312:=python3.12}"

# A version manager's shim can exist without the version behind it, so ask the interpreter.
if ! "$SS_PYTHON312" -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; then
    echo "SKIP: no Python 3.12 or later as '$SS_PYTHON312' (set SS_PYTHON312 to one)"
    exit 77
fi
runtime_setup "$SS_PYTHON312" tests/fixtures/python/stall.py

"$stallscope" run -q -o "$tmp/run" -- "$SS_PYTHON312" "$fixture" >"$tmp/out" 2>"$tmp/err" ||
    fail "$SS_PYTHON312 failed under stallscope"
"$stallscope" export --format json -o "$tmp/run.json" "$tmp/run" || fail "export failed"

"$SS_PYTHON312" - "$tmp/run.json" "$tmp/out" "$fixture" <<'PY' || fail "Python functions are not named"
import json
import re
import sys

json_path, out_path, fixture = sys.argv[1:4]
with open(json_path) as f:
    run = json.load(f)
with open(out_path) as f:
    planted = {m[1]: float(m[2]) for m in re.finditer(r"^planted (\S+) ([0-9.]+)$", f.read(), re.M)}
problems = []
proc = run["processes"][0]
stalls = [s for s in proc["stalls"] if s["tid"] == proc["pid"]]


def near(ns, ms):
    return ms is not None and abs(ns / 1e6 - ms) <= max(ms * 0.1, 5)


def frames(stall):
    return [f for s in stall["samples"] for f in s["frames"]]


for name in ("cpu_loop", "blocking_sleep"):
    named = [f for s in stalls if near(s["duration_ns"], planted.get(name))
             for f in frames(s) if f["symbol"] == f"py::{name}:{fixture}"]
    if not named:
        problems.append(f"no stall of ~{planted.get(name)} ms naming py::{name}")
    elif any(f["kind"] != "interpreter" or f["file"] != fixture for f in named):
        problems.append(f"py::{name} frames lack kind interpreter or file: {named[0]}")
for p in problems:
    print(p)
sys.exit(1 if problems else 0)
PY

[ -f "$tmp/run/perf-$(sed -n 's/^ *"pid": \([0-9]*\),$/\1/p' "$tmp/run.json" | head -1).map" ] ||
    fail "the perf map is not kept in the run"

# The switch that turns it off.
"$stallscope" run -q --no-jit-maps -o "$tmp/run-off" -- "$SS_PYTHON312" "$fixture" \
    >"$tmp/out" 2>"$tmp/err" || fail "$SS_PYTHON312 failed under stallscope --no-jit-maps"
ls "$tmp/run-off" | grep -q '^perf-' && fail "--no-jit-maps still made Python write a perf map"
"$stallscope" report "$tmp/run-off" | grep -q 'py::' && fail "--no-jit-maps still names py:: frames"
exit 0
