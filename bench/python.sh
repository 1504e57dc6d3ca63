#!/bin/sh
# What reading Python frames costs the monitor per sample: the test fixture's asyncio server
# (tests/fixtures/python/frames.py) stalls in a Python loop three functions deep and in
# sorted() calling back into Python, under stallscope run with Python frames read (the
# default) and with --no-python-frames, runs interleaved; each sample's capture time (what the
# monitor spent unwinding it, off the traced process) is in the trace. Run by scripts/bench,
# which sets SS, OUT, REPS and PYTHON.
set -eu
fixture=$(dirname "$0")/../tests/fixtures/python/frames.py
rm -f "$OUT/python-capture.txt"
for rep in $(seq "$REPS"); do
    for mode in frames no-frames; do
        run=$OUT/python-$mode-$rep
        rm -rf "$run"
        flag=
        [ $mode = no-frames ] && flag=--no-python-frames
        # shellcheck disable=SC2086
        "$SS" run -q $flag -o "$run" -- "$PYTHON" "$fixture" cpu sorted cpu sorted >/dev/null
        "$SS" export --format json -o "$run.json" "$run"
        "$PYTHON" - "$run.json" "$mode" >>"$OUT/python-capture.txt" <<'PY'
import json
import sys

run = json.load(open(sys.argv[1]))
for p in run["processes"]:
    for s in p["stalls"]:
        for x in s["samples"]:
            if x["source"] in ("perf", "signal", "syscall") and x["frames"]:
                python = sum(f["kind"] == "interpreter" for f in x["frames"])
                print(sys.argv[2], x["capture_ns"], len(x["frames"]), python)
PY
        rm -rf "$run" "$run.json"
    done
done
"$PYTHON" - "$OUT/python-capture.txt" "$("$PYTHON" --version 2>&1)" <<'PY'
import statistics
import sys

rows = [line.split() for line in open(sys.argv[1])]
print(f"  {sys.argv[2]}: capture time per sample, in microseconds")
print(f"  {'mode':<12} {'samples':>8} {'p50':>8} {'p90':>8} {'max':>8} {'frames p50':>11} {'python p50':>11}")
for mode in ("frames", "no-frames"):
    got = [r for r in rows if r[0] == mode]
    if not got:
        print(f"  {mode:<12} no samples")
        continue
    us = sorted(int(r[1]) / 1000 for r in got)
    q = statistics.quantiles(us, n=10) if len(us) > 1 else us * 9
    print(f"  {mode:<12} {len(us):>8} {statistics.median(us):>8.1f} {q[8]:>8.1f} {max(us):>8.1f}"
          f" {statistics.median(int(r[2]) for r in got):>11.0f}"
          f" {statistics.median(int(r[3]) for r in got):>11.0f}")
PY
