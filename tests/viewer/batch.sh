#!/bin/sh
# `stallscope view --batch`: each view as text, for scripts, on a finished run of the loop
# fixture (a 200 ms spin and a 150 ms sleep); and every wrong use of `stallscope view` gets one
# line naming the problem and status 2.
# Exit status follows the automake test driver: 0 pass, 1 fail, 77 skip, 99 harness error.

# shellcheck source=../lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"
fixture=$SS_BUILDDIR/tests/fixtures/loop-fixture-O2
need_built "$stallscope" "$SS_BUILDDIR/stallscope-view" "$fixture"
scratch

"$stallscope" run -q -o "$tmp/run" -- "$fixture" --spin 200 --sleep 150 >"$tmp/out" ||
    { echo "ERROR: cannot record the fixture"; exit 99; }
pid=$(basename "$(ls "$tmp"/run/stallscope-*.trace | head -1)" .trace | sed 's/^stallscope-//')

# view NAME ARGS...: runs `stallscope view --batch --ascii ARGS` into $tmp/NAME.
view() {
    name=$1
    shift
    if ! LC_ALL=C "$stallscope" view --batch --ascii "$@" >"$tmp/$name" 2>"$tmp/$name.err"; then
        echo "FAIL: stallscope view --batch $* failed: $(cat "$tmp/$name.err")"
        failures=$((failures + 1))
    fi
}

# has NAME EXTENDED-REGEX [LINE]: the output (or its line LINE) matches.
has() {
    if [ -n "${3:-}" ]; then
        sed -n "$3p" "$tmp/$1" | grep -Eq -- "$2" && return
    elif grep -Eq -- "$2" "$tmp/$1"; then
        return
    fi
    echo "FAIL: no /$2/${3:+ on line $3} in the $1 output:"
    sed 's/^/    /' "$tmp/$1"
    failures=$((failures + 1))
}

view stalls "$tmp/run"
has stalls '^TIMEv +PID +TID +THREAD +DURATION +CAUSE +BLOCKED IN +TOP FRAME$' 1
has stalls "^[0-9:.]+ +$pid +$pid +loop-fixture-O2 +[0-9.]+ms #+ +blocked:sleep +nanosleep\(\) [0-9.]+ms( \+)? +plant_sleep$" 2
# A busy machine can keep the spinning thread from a CPU for most of its stall.
has stalls "^[0-9:.]+ +$pid +$pid +loop-fixture-O2 +[0-9.]+ms #+ +(cpu:code|starved) +plant_spin$" 3
[ "$(wc -l <"$tmp/stalls")" -eq 3 ] || { echo "FAIL: not 3 lines of stalls"; failures=$((failures + 1)); }
view longest --sort longest --width 80 "$tmp/run"
has longest 'plant_spin$' 2
has longest '\[nanosleep\(\) [0-9.]+ms( \+)?\] plant_s' 3

view flame --view flame --width 100 "$tmp/run"
has flame '^ Scope: all stalls: [0-9]+ samples, [0-9.]+ms$' 1
has flame '^\|all 100\.0%$' 2
has flame '^\|run_loop 100\.0%$'
has flame '^\|plant_(sleep|spin) [0-9.]+% +\|plant_(sleep|spin) [0-9.]+%'
has flame '\|nanosleep [0-9.]+%'
view scoped --view flame --pid "$pid" -d "$tmp/run"
has scoped "^ Scope: pid $pid: " 1

view calls --view calls "$tmp/run"
has calls '^nanosleep +sleep +[0-9]+ +1 +[0-9.]+ms .*plant_sleep'
view loops --view loops "$tmp/run"
has loops '^ +PID +TID +NAME +ITERATIONS +P50 +P99 +MAX +STALLS +STALLED' 1
has loops "^ +$pid +$pid +loop-fixture-O2 +[0-9]+ .* 2 +[0-9.]+ms" 2
has loops "^ Thread $pid \(loop-fixture-O2\), pid $pid: [0-9]+ iterations"
has loops '^ +>= 134ms +[0-9]+ +#+$'
has loops '^ Stalled time over the last [0-9.]+m?s:$'

# The stalled time by cause, as the report shares it out, with the advice for a native program.
view causes --view causes "$tmp/run"
has causes '^ Stalled time by cause: [0-9.]+ms in 2 stalls$' 1
has causes '^CAUSE +STALLEDv +SHARE +STALLS +LONGEST +LONGEST IN$' 2
has causes "^blocked:sleep +1[0-9.]+ms +[0-9]+% +1 +1[0-9.]+ms +#+ +nanosleep in plant_sleep$"
has causes "^cpu:code +[0-9.]+ms +[0-9]+% +1 +[0-9.]+ms +#* +plant_spin$"
has causes '^ blocked:sleep: 1[0-9.]+ms, [0-9]+% of the stalled time, in 1 stall; longest 1[0-9.]+ms in nanosleep in plant_sleep \(pid '"$pid"'\)$'
has causes '^ +advice: Replace the sleep with a timer of the loop\.$'
has causes '^ +advice: The program.s own code ran long on the loop thread'
# Rules of one's own name the spin's kind and give its advice; a mistake in them is an error.
printf 'cpu crypto plant_spin\nadvice cpu:crypto * Hash less often.\n' >"$tmp/my.rules"
view mine --causes "$tmp/my.rules" "$tmp/run"
has mine "^[0-9:.]+ +$pid +$pid +loop-fixture-O2 +[0-9.]+ms #+ +(cpu:crypto|starved) +plant_spin$" 3
view mycauses --view causes --causes "$tmp/my.rules" "$tmp/run"
has mycauses '^cpu:crypto +[0-9.]+ms .* plant_spin in run_loop$'
has mycauses '^ +advice: Hash less often\.$'
printf 'cpu crypto\n' >"$tmp/bad.rules"
stallscope_exits 2 "--causes: .*bad.rules:1: expected 'cpu KIND PATTERN'" view --batch --causes "$tmp/bad.rules" "$tmp/run"
stallscope_exits 2 "--causes: .*No such file" view --causes "$tmp/missing.rules" "$tmp/run"

mkdir "$tmp/empty"
stallscope_exits 2 "no trace of that process in $tmp/run" view --pid 1 -d "$tmp/run"
stallscope_exits 2 'no run directory stallscope.run' view --pid 1 -d stallscope.run
stallscope_exits 2 'give a run or --pid, not both' view --pid 1 "$tmp/run"
stallscope_exits 2 'No such file or directory' view --batch "$tmp/missing"
stallscope_exits 2 'No such file or directory' view "$tmp/missing"
stallscope_exits 2 'no trace files' view --batch "$tmp/empty"
stallscope_exits 2 "--view: expected stalls, flame, calls, loops or causes, got 'bogus'" view --view bogus
stallscope_exits 2 "--width is for --batch" view --width 80 "$tmp/run"
stallscope_exits 2 "--width: expected a number" view --batch --width 0 "$tmp/run"
stallscope_exits 2 "unknown option '--bogus'" view --bogus
stallscope_exits 2 'needs a terminal' view "$tmp/run"
STALLSCOPE_VIEW=$tmp/none stallscope_exits 2 'STALLSCOPE_VIEW=.*/none' view "$tmp/run"

"$stallscope" view --batch "$tmp/run" >/dev/full 2>"$tmp/err"
if [ $? -ne 2 ] || ! grep -q 'cannot write standard output' "$tmp/err"; then
    echo "FAIL: batch output to a full disk was not reported"
    failures=$((failures + 1))
fi
"$stallscope" --help | grep -q '^  view ' || { echo "FAIL: view is not in stallscope --help"; failures=$((failures + 1)); }
"$stallscope" view --help | grep -q -- '--batch' || { echo "FAIL: no --batch in view --help"; failures=$((failures + 1)); }

[ "$failures" -eq 0 ]
