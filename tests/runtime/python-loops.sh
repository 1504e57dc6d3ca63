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
    PYTHONPATH="$SS_SRCDIR/tests/lib" python3 - "$mode" "$tmp/run.json" "$tmp/out" <<'EOF' || failures=$((failures + 1))
import sys

from loopcheck import Check, near, planted_or_real

check = Check(*sys.argv[1:4], kinds=("planted", "unlooped"))
mode, expect = check.mode, check.expect
planted, unlooped = check.timed["planted"], check.timed["unlooped"]
proc = check.process("loops.py", {"stalls": [], "threads": [], "pid": 0})
stalls = proc["stalls"]
expect(planted or mode == "after-run", "the fixture reported no planted stall")

for name, ms, tid in planted:
    matching = [s for s in stalls if s["tid"] == tid and near(s["duration_ns"], ms)]
    expect(len(matching) == 1, f"planted {name} of {ms} ms: {len(matching)} stalls of that length")

# The work outside the loops (a spin) is never a stall.
stalls = planted_or_real(stalls, planted)
shown = ", ".join(f"{s['duration_ns'] / 1e6:.0f} ms on {s['tid']}" for s in stalls)
expect(len(stalls) == len(planted),
       f"{len(stalls)} stalls ({shown}) for {len(planted)} planted; the work outside the "
       f"loops ({', '.join(n for n, _, _ in unlooped) or 'none'}) is not a stall")
loop_tids = sorted(t["tid"] for t in proc["threads"] if t["loop"] and t["iterations"])
expect(loop_tids == [proc["pid"]],
       f"the loop threads are {loop_tids}, not just asyncio's main thread {proc['pid']}")

check.finish()
EOF
done
[ "$failures" -eq 0 ] || fail "$failures of 4 modes are wrong"
exit 0
