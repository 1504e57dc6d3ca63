#!/bin/sh
# Runtime test: Node.js programs whose waits are not all their main loop's. A top-level
# execSync runs a loop of its own before the main one: the trace must hold the planted stall
# and nothing else. 150 worker threads, 8 alive at a time, each run a loop and end: every one
# of them is traced (their slots are given back), so the last one's planted stall is there
# with its stack, and no thread is left untraced for want of a slot.
# Exit status follows the automake test driver: 0 pass, 1 fail, 77 skip, 99 harness error.

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
runtime_setup node tests/fixtures/node/loops.js

failures=0
for mode in exec-sync workers; do
    rm -rf "$tmp/run"
    "$stallscope" run -q -o "$tmp/run" -- node "$fixture" "$mode" >"$tmp/out" 2>"$tmp/err"
    status=$?
    [ "$status" -eq 0 ] || fail "$mode: node exited with status $status under stallscope"
    [ -n "$(program_stderr "$tmp/err")" ] && fail "$mode: node wrote to stderr under stallscope"
    grep -q '^done$' "$tmp/out" || fail "$mode: the fixture did not finish"
    "$stallscope" export --format json "$tmp/run" >"$tmp/run.json" || fail "$mode: export failed"
    PYTHONPATH="$SS_SRCDIR/tests/lib" python3 - "$mode" "$tmp/run.json" "$tmp/out" <<'EOF' || failures=$((failures + 1))
import sys

from loopcheck import Check, near, planted_or_real

check = Check(*sys.argv[1:4])
mode, expect = check.mode, check.expect
planted = check.timed["planted"]
proc = check.process("loops.js", {"stalls": [], "threads": [], "notes": [], "pid": 0})
stalls = proc["stalls"]
expect(len(planted) == 1, f"the fixture reported {len(planted)} planted stalls, not 1")

for name, ms, tid in planted:
    matching = [s for s in stalls if s["tid"] == tid and near(s["duration_ns"], ms)]
    expect(len(matching) == 1, f"planted {name} of {ms} ms: {len(matching)} stalls of that length")
    expect(any(x["frames"] for s in matching for x in s["samples"]),
           f"planted {name}: no sample with a stack")
loops = [t for t in proc["threads"] if t["loop"] and t["iterations"]]


# execSync's loop is a wait for a child, never a stall.
if mode == "exec-sync":
    stalls = planted_or_real(stalls, planted)
    shown = ", ".join(f"{s['duration_ns'] / 1e6:.0f} ms" for s in stalls)
    expect(len(stalls) == 1, f"{len(stalls)} stalls ({shown}): execSync's loop is not a stall")
    expect([t["tid"] for t in loops] == [proc["pid"]],
           f"loop threads {[t['tid'] for t in loops]}, not the main thread alone")
else:
    expect(len(loops) >= 151, f"{len(loops)} loop threads traced, not the main one and 150 workers")
    expect(not any("too many loop threads" in n for n in proc["notes"]), "slots ran out")

check.finish()
EOF
done
[ "$failures" -eq 0 ] || fail "$failures of 2 modes are wrong"
exit 0
