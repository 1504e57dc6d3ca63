#!/bin/sh
# The viewer's flame and `stallscope export --format folded` give the same stalled time per
# stack: on a recorded run of the loop fixture (a 200 ms spin and a 150 ms sleep), and on a
# built run of many more stalls than are kept in detail, whose summarised stalls count by stack
# in both. The viewer's side comes from the headless API the viewer draws from
# (tests/viewer/flame-stacks), so the comparison is exact; the batch view is checked to show
# that same flame.
# Exit status follows the automake test driver: 0 pass, 1 fail, 77 skip, 99 harness error.

# shellcheck source=../lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"
stacks=$SS_BUILDDIR/tests/viewer/flame-stacks
gen=$SS_BUILDDIR/bench/gen-trace
fixture=$SS_BUILDDIR/tests/fixtures/loop-fixture-O2
need_built "$stallscope" "$SS_BUILDDIR/stallscope-view" "$stacks" "$gen" "$fixture"
STALLS=2000 KEEP=40
scratch

"$stallscope" run -q -o "$tmp/fixture" -- "$fixture" --spin 200 --sleep 150 >"$tmp/out" ||
    { echo "ERROR: cannot record the fixture"; exit 99; }
"$gen" "$tmp/built" "$STALLS" || exit 99

# agree NAME KEEP RUN: the viewer's flame of each thread is the folded export line for line,
# and its flame of all stalls, stack by stack, the export's lines of that stack added up over
# the threads, each line's rounding to a microsecond allowed for. Leaves NAME.all.
agree() {
    name=$1 keep=$2 run=$3
    "$stacks" folded "$keep" "$run" | LC_ALL=C sort >"$tmp/$name.viewer" || exit 99
    "$stallscope" export --format folded --keep-stalls "$keep" "$run" | LC_ALL=C sort \
        >"$tmp/$name.export" || exit 99
    "$stacks" all "$keep" "$run" >"$tmp/$name.all" || exit 99
    if [ ! -s "$tmp/$name.export" ]; then
        fail "$name: the folded export is empty"
    elif cmp -s "$tmp/$name.viewer" "$tmp/$name.export"; then
        echo "ok: $name: the viewer's flame of each thread is the folded export," \
            "$(wc -l <"$tmp/$name.export") stacks"
    else
        fail "$name: the viewer's flame and the folded export differ (< viewer, > export):"
        diff "$tmp/$name.viewer" "$tmp/$name.export" | head -10
    fi
    if awk '
        FNR == 1 { file++ }
        /^#/ { next }
        {
            weight = $NF
            stack = substr($0, 1, length($0) - length(weight) - 1)
            if (file == 1) {
                viewer[stack] = weight / 1000
            } else {
                sub(/^[^;]*;/, "", stack)
                exported[stack] += weight
                lines[stack]++
            }
        }
        END {
            bad = 0
            for (s in viewer) if (!(s in exported)) exported[s] = 0
            for (s in exported) {
                d = viewer[s] - exported[s]
                if (d < 0) d = -d
                if (d > 0.5 * (lines[s] ? lines[s] : 1)) {
                    printf "    %s: viewer %.3fus, export %dus\n", s, viewer[s], exported[s]
                    bad = 1
                }
            }
            exit bad
        }' "$tmp/$name.all" "$tmp/$name.export"; then
        echo "ok: $name: the flame of all stalls has the export's time per stack"
    else
        fail "$name: the flame of all stalls and the export differ in the stacks above"
    fi
}

# The recorded run: one loop thread, the spin's samples and the sleep's call sample.
agree fixture 0 "$tmp/fixture"
grep -q ';run_loop;plant_spin [1-9][0-9]*$' "$tmp/fixture.export" ||
    fail "fixture: no time in plant_spin: $(cat "$tmp/fixture.export")"
grep -q ';run_loop;plant_sleep;nanosleep [1-9][0-9]*$' "$tmp/fixture.export" ||
    fail "fixture: no time in nanosleep under plant_sleep: $(cat "$tmp/fixture.export")"

# The built run: four threads of one name, read with every stall kept and with KEEP of them.
agree built-all 0 "$tmp/built"
agree built-some "$KEEP" "$tmp/built"
summarised=$((STALLS - KEEP))
grep -qx "# summarised $summarised" "$tmp/built-some.all" ||
    fail "the flame does not count $summarised summarised stalls: $(head -2 "$tmp/built-some.all")"
if grep -v '^# summarised' "$tmp/built-all.all" >"$tmp/all.a" &&
    grep -v '^# summarised' "$tmp/built-some.all" >"$tmp/some.a" && cmp -s "$tmp/all.a" "$tmp/some.a"; then
    echo "ok: the flame with $KEEP stalls kept is the flame with all of them, to the nanosecond"
else
    fail "the flame with $KEEP stalls kept differs from the flame with all $STALLS:"
    diff "$tmp/all.a" "$tmp/some.a" | head -5
fi

# What `stallscope view --batch` draws is that flame: its samples, and its summarised stalls.
for name in fixture built-some; do
    case $name in
    fixture) args="$tmp/fixture" ;;
    *) args="--keep-stalls $KEEP $tmp/built" ;;
    esac
    # shellcheck disable=SC2086
    "$stallscope" view --batch --view flame --ascii $args >"$tmp/$name.batch" 2>&1 || exit 99
    samples=$(sed -n 's/^# samples //p' "$tmp/$name.all")
    n=$(sed -n 's/^# summarised //p' "$tmp/$name.all")
    if [ "$n" -gt 0 ]; then
        want="^ Scope: all stalls: $samples samples, [^ ]+ \\($n stalls summarised, by stack\\)\$"
    else
        want="^ Scope: all stalls: $samples samples, [^ ]+\$"
    fi
    head -1 "$tmp/$name.batch" | grep -Eq -- "$want" ||
        fail "$name: the batch flame begins $(head -1 "$tmp/$name.batch"), want /$want/"
done
grep -Eq '\|nanosleep [0-9.]+%' "$tmp/fixture.batch" ||
    fail "the batch flame does not name the call as the export does: $(cat "$tmp/fixture.batch")"

[ "$failures" -eq 0 ]
