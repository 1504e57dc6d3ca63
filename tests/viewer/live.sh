#!/bin/sh
# The viewer following a run while it is written: the loop fixture spins for 2.5 s under
# `stallscope run`, and the stall must show, still running, while the fixture spins, then as
# ended once it has. To be independent of the machine's speed, the fixture is stopped
# (SIGSTOP) as soon as its trace holds the stall in progress, and continued once the viewer
# has shown it; `z` must hold the screen still meanwhile.
# Exit status follows the automake test driver: 0 pass, 1 fail, 77 skip, 99 harness error.

tmp=$(mktemp -d) || exit 99
. "${SS_SRCDIR:-$(dirname "$0")/../..}/tests/viewer/tmux.sh"
fixture_pid=
run_pid=
finish() {
    [ -n "$fixture_pid" ] && kill -CONT "$fixture_pid" 2>/dev/null
    [ -n "$run_pid" ] && wait "$run_pid" 2>/dev/null
    cleanup_tmux
    rm -rf "$tmp"
}
trap finish EXIT
trap 'exit 99' HUP INT TERM

# wait_until COMMAND...: until it succeeds, within $SS_WAIT seconds.
wait_until() {
    waited=0
    until "$@"; do
        [ "$waited" -ge $((SS_WAIT * 10)) ] && fail "waited ${SS_WAIT}s in vain for: $*"
        sleep 0.1
        waited=$((waited + 1))
    done
}

trace_exists() {
    ls "$tmp"/run/stallscope-*.trace >/dev/null 2>&1
}

stall_running() {
    "$stallscope" report "$tmp/run" 2>/dev/null | grep -q 'so far, still running'
}

"$stallscope" run -q -o "$tmp/run" -- "$fixture" --spin 2500 >"$tmp/out" 2>&1 &
run_pid=$!
wait_until trace_exists
start_viewer live 120 40 LC_ALL="${utf8_locale:-C}" -- "$tmp/run"

wait_until stall_running
fixture_pid=$(basename "$(ls "$tmp"/run/stallscope-*.trace | head -1)" .trace | sed 's/^stallscope-//')
kill -STOP "$fixture_pid" || { echo "ERROR: cannot stop the fixture"; exit 99; }
stall_running || { echo "ERROR: the stall ended before the fixture could be stopped"; exit 99; }

# While the fixture spins: the stall is there, marked as still running (a '+' after its
# duration), with the frame that spins.
wait_for live '[0-9]m?s\+ .*plant_spin'
expect_screen live '(live|quiet)$'
keys live Enter
wait_for live '^ Stall of [0-9.]+m?s so far, still running on thread'
expect_screen live '^ +plant_spin +loop-fixture-O2$'
keys live Escape
wait_for live '^TIME'

# Frozen, the screen stays as it is while the fixture finishes.
keys live z
wait_for live 'frozen$'
kill -CONT "$fixture_pid"
fixture_pid=
wait "$run_pid" || fail "the fixture failed under stallscope: $(cat "$tmp/out")"
run_pid=
grep -q '^planted spin' "$tmp/out" || fail "the fixture did not plant its spin"
sleep 2
expect_screen live '[0-9]m?s\+ .*plant_spin' "the screen changed while frozen"

# Resumed: the stall has ended, and so has the run.
keys live z
wait_for live 'finished$'
expect_screen live 'loop-fixture-O2 +[0-9.]+s [^+]*plant_spin'
keys live Enter
wait_for live '^ Stall of [0-9.]+s on thread [0-9]+ \(loop-fixture-O2\), pid '
keys live q
exited live 0
echo "ok: a live run, followed while it was written"
