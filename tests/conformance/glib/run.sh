#!/bin/sh
# GLib's installed tests: runs each program listed in ./programs by its .test file's Exec
# line, with a fixed random seed, two at a time, and records every test case's result from
# its TAP output. A program that is timed out has its running test reported as "hang" (the
# first of its own list of tests, -l, that it did not report). Outputs are in OUT/PROGRAM/.
# Usage: run.sh OUT (the pass comes from the environment, see ../lib.sh).
set -u
OUT=$1
. "$(dirname "$0")/../lib.sh"
tests=/usr/share/installed-tests/glib
: >"$OUT/results"
if [ ! -d "$tests" ]; then
    echo "SKIP: GLib's installed tests are not installed ($tests)" >"$OUT/skipped"
    exit 0
fi
seed=R02S0123456789abcdef0123456789abcdef

run_program() {
    name=$1 dir=$OUT/$1
    mkdir -p "$dir/work"
    exec_line=$(sed -n 's/^Exec=//p' "$tests/$name.test")
    # shellcheck disable=SC2086
    $exec_line -l 2>/dev/null | grep '^/' >"$dir/list"
    # shellcheck disable=SC2086
    (cd "$dir/work" && boxed 60 "$dir/trace" $exec_line --seed="$seed" </dev/null >../tap 2>../stderr
     echo $? >../status)
    "$PY" "$CONFORMANCE_DIR/tap2results.py" "$name" "$dir/tap" "$(cat "$dir/status")" "$dir/list" |
        sed "s|\$|	$dir|" >"$dir/results"
}

lane() {
    for name in "$@"; do run_program "$name"; done
}

# shellcheck disable=SC2046,SC2086
set -- ${GLIB_PROGRAMS:-$(grep -v '^#' "$CONFORMANCE_DIR/glib/programs")}
all="$*"
first='' second='' n=0
for name in "$@"; do
    if [ $((n % 2)) -eq 0 ]; then first="$first $name"; else second="$second $name"; fi
    n=$((n + 1))
done
# shellcheck disable=SC2086
lane $first &
# shellcheck disable=SC2086
lane $second
wait
for name in $all; do cat "$OUT/$name/results"; done >>"$OUT/results"
