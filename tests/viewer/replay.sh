#!/bin/sh
# The viewer in a real terminal on a finished run of the loop fixture (a 200 ms spin and a
# 150 ms sleep): every view, the keys, resizing, colour and ASCII modes, and the terminal given
# back on quit, on Ctrl-C and on SIGTERM.
# Exit status follows the automake test driver: 0 pass, 1 fail, 77 skip, 99 harness error.

tmp=$(mktemp -d) || exit 99
. "${SS_SRCDIR:-$(dirname "$0")/../..}/tests/viewer/tmux.sh"
trap 'cleanup_tmux; rm -rf "$tmp"' EXIT
trap 'exit 99' HUP INT TERM

"$stallscope" run -q -o "$tmp/run" -- "$fixture" --spin 200 --sleep 150 >"$tmp/out" ||
    { echo "ERROR: cannot record the fixture"; exit 99; }
loc=${utf8_locale:-C}

start_viewer v 120 40 LC_ALL="$loc" -- "$tmp/run"
wait_for v 'finished'
expect_screen v '^ stallscope +1 Stalls +2 Flame +3 Calls +4 Loops .*2 stalls, 1 process'
expect_screen v '^TIME.* PID +TID +THREAD +DURATION +CAUSE +BLOCKED IN +TOP FRAME'
expect_screen v 'loop-fixture-O2 +[0-9.]+ms .* nanosleep\(\) [0-9.]+ms( \+)? +plant_sleep'
expect_screen v 'loop-fixture-O2 +[0-9.]+ms .* plant_spin'
screen v | sed -n 3p | grep -q plant_sleep || fail "the newest stall (the sleep) is not first"

keys v s
wait_for v 'longest first'
screen v | sed -n 3p | grep -q plant_spin || fail "s did not sort longest first"
keys v g Enter
wait_for v '^ Stall of [0-9.]+ms on thread [0-9]+ \(loop-fixture-O2\)'
# With perf events, timed samples come every 10 ms of the thread's CPU time, so a busy machine
# gives fewer of them: at least one, in plant_spin, is what any load leaves.
expect_screen v '^ +samples +[1-9][0-9]* \([1-9][0-9]* with a stack\): [1-9][0-9]* (perf|signal)'
expect_screen v '^ +sampled +every 10ms (of CPU time after the 50ms threshold, by perf events|after the 50ms threshold, by signal [0-9]+)'
expect_screen v '^ +in [1-9][0-9]* of [1-9][0-9]* samples'
expect_screen v '^ +plant_spin +loop-fixture-O2$'
expect_screen v '^ +run_loop +loop-fixture-O2$'
keys v Escape
wait_for v '^TIME'

keys v Tab
wait_for v '^ Scope: all stalls: [0-9]+ samples'
# Heaviest first: the spin's samples stand for its 200 ms, the sleep's call for its 150 ms.
expect_screen v 'plant_spin [0-9.]+%.*plant_sleep [0-9.]+%'
expect_screen v 'nanosleep [0-9.]+%'
keys v / s p i n Enter
wait_for v '/spin: 1 frame, [0-9.]+% of shown'
expect_screen v '^ plant_spin [0-9.]+ms, [0-9.]+% of shown'
keys v Enter
wait_for v 'plant_spin 100\.0%'
keys v Escape
wait_for v 'plant_spin [1-9][0-9]\.[0-9]%'

keys v Tab
wait_for v 'nanosleep +sleep '
keys v Tab
wait_for v 'ITERATIONS +P50 +P99 +MAX +STALLS +STALLED'
expect_screen v 'loop-fixture-O2 .* 2 '
expect_screen v '>= 134ms +[0-9]+'
keys v '?'
wait_for v 'Keys: Loops view'
keys v x
wait_for v 'Enter flame of the thread'

# Resizing redraws for the new size: narrow columns at 80x24, all of them at 200x60.
keys v 1
tm resize-window -t v -x 80 -y 24
wait_for v '^TIME.* PID +TID +DURATION[^ ]* +TOP FRAME'
[ "$(screen v | wc -l)" -eq 24 ] || fail "not 24 lines after resizing"
screen v | sed -n 24p | grep -q '? help' || fail "no status line at the bottom after resizing"
expect_screen v '\[nanosleep\(\) [0-9.]+ms( \+)?\] plant_s'
tm resize-window -t v -x 200 -y 60
wait_for v 'THREAD +DURATION[^ ]* +CAUSE +BLOCKED IN +TOP FRAME'
screen v | sed -n 60p | grep -q '? help' || fail "no status line at the bottom of 60 lines"

keys v q
exited v 0

# NO_COLOR: attributes (reverse, bold) but no colour; --ascii: no box or block glyphs.
start_viewer mono 100 30 LC_ALL="$loc" NO_COLOR=1 TERM=screen-256color -- --ascii "$tmp/run"
wait_for mono 'finished'
keys mono 2
wait_for mono '^\|all 100\.0%'
tm capture-pane -p -e -t mono >"$tmp/mono"
if grep -Eq "$(printf '\033')\[([34][0-7]|[34]8;)" "$tmp/mono"; then
    fail "colours drawn with NO_COLOR set"
fi
grep -q "$(printf '\033')\[[0-9;]*7m" "$tmp/mono" || fail "no reverse video without colour"
if LC_ALL=C grep -q "$(printf '\342')" "$tmp/mono"; then
    fail "non-ASCII glyphs drawn with --ascii"
fi
start_viewer colour 100 30 LC_ALL="$loc" TERM=screen-256color -- "$tmp/run"
wait_for colour 'finished'
tm capture-pane -p -e -t colour >"$tmp/colour"
grep -Eq "$(printf '\033')\[([34][0-7]|[34]8;)" "$tmp/colour" || fail "no colour on a colour terminal"

# Ctrl-C and a fatal signal still give the terminal back.
start_viewer ctrlc 80 24 LC_ALL="$loc" -- "$tmp/run"
wait_for ctrlc 'finished'
keys ctrlc C-c
exited ctrlc 130
start_viewer term 80 24 LC_ALL="$loc" -- "$tmp/run"
wait_for term 'finished'
pid=$(ps -o pid= --ppid "$(tm display-message -p -t term '#{pane_pid}')" | tr -d ' ')
[ -n "$pid" ] || fail "cannot find the viewer's pid"
kill -TERM "$pid"
exited term 143

# --pid finds the run of a process and scopes the flame to it.
trace=$(ls "$tmp/run"/stallscope-*.trace | head -1)
tpid=$(basename "$trace" .trace | sed 's/^stallscope-//')
start_viewer pid 100 30 LC_ALL="$loc" -- --pid "$tpid" -d "$tmp/run" --view flame
wait_for pid "^ Scope: pid $tpid: "
keys pid q
exited pid 0
echo "ok: replay of a finished run"
