#!/bin/sh
# What reading Python frames costs the monitor per sample: the test fixture's asyncio server
# (tests/fixtures/python/frames.py) stalls in a Python loop three functions deep and in
# sorted() calling back into Python, under stallscope run with Python frames read (the
# default) and with --no-python-frames, runs interleaved; each sample's capture time (what the
# monitor spent unwinding it, off the traced process) is in the trace. Run by scripts/bench,
# which sets SS, OUT, REPS and PYTHON. A second part times what copying Python frames costs
# the traced process (below).
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

# What Python frames cost the traced process per blocking call: a coroutine times os.stat()
# calls made on the loop thread, 20 Python frames deep, with no shim, with the shim and
# --no-python-frames, with the shim's defaults, with --python-sites (each call told apart by
# the code of its innermost Python frames), and with --call-threshold 1ns (every call's stack
# copied, without and with Python frames), runs interleaved.
cat >"$OUT/python-calls.py" <<'PY'
import asyncio
import os
import sys
import time


def timed_stat(path, depth):
    if depth:
        return timed_stat(path, depth - 1)
    t0 = time.perf_counter_ns()
    os.stat(path)
    return time.perf_counter_ns() - t0


async def main():
    times = []
    for _ in range(1500):
        times.append(timed_stat(sys.argv[0], 20))
        await asyncio.sleep(0.0005)
    print(" ".join(str(t) for t in times))


asyncio.run(main())
PY
rm -f "$OUT/python-calls.txt"
for rep in $(seq "$REPS"); do
    for mode in no-shim no-frames frames sites copy-no-frames copy-frames; do
        run=$OUT/python-calls-$rep
        rm -rf "$run"
        case $mode in
        no-shim) set -- ;;
        no-frames) set -- "$SS" run -q --no-python-frames -o "$run" -- ;;
        frames) set -- "$SS" run -q -o "$run" -- ;;
        sites) set -- "$SS" run -q --python-sites -o "$run" -- ;;
        copy-no-frames) set -- "$SS" run -q --call-threshold 1ns --no-python-frames -o "$run" -- ;;
        copy-frames) set -- "$SS" run -q --call-threshold 1ns -o "$run" -- ;;
        esac
        printf '%s ' "$mode" >>"$OUT/python-calls.txt"
        "$@" "$PYTHON" "$OUT/python-calls.py" >>"$OUT/python-calls.txt"
        rm -rf "$run"
    done
done
"$PYTHON" - "$OUT/python-calls.txt" <<'PY'
import statistics
import sys

rows = {}
for line in open(sys.argv[1]):
    mode, *times = line.split()
    rows.setdefault(mode, []).extend(int(t) / 1000 for t in times)
print("  os.stat() on the loop thread, 20 Python frames deep: microseconds per call")
print(f"  {'mode':<16} {'calls':>8} {'p50':>8} {'p90':>8}")
for mode in ("no-shim", "no-frames", "frames", "sites", "copy-no-frames", "copy-frames"):
    us = sorted(rows.get(mode, []))
    if not us:
        print(f"  {mode:<16} no calls")
        continue
    q = statistics.quantiles(us, n=10)
    print(f"  {mode:<16} {len(us):>8} {statistics.median(us):>8.1f} {q[8]:>8.1f}")
PY
