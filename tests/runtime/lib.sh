# Sourced by the runtime tests, on top of tests/lib/lib.sh. `runtime_setup COMMAND FIXTURE`
# skips (exit 77) when COMMAND is not installed, checks that stallscope and the fixture (a
# path under the source directory) exist, and sets $fixture and $tmp, a scratch directory
# removed at exit together with the perf maps the traced runtimes wrote to /tmp for the
# traces in it. fail() reports the fixture's output ($tmp/out, $tmp/err) and the report of
# $tmp/run; a test that keeps other things defines its own after the setup.

# shellcheck source=../lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"

runtime_setup() {
    skip_unless "$1"
    # Runtimes name a script by its resolved path; under distcheck the source directory is
    # relative.
    fixture=$(realpath "$SS_SRCDIR/$2" 2>/dev/null) || fixture=$SS_SRCDIR/$2
    if [ ! -x "$stallscope" ] || [ ! -r "$fixture" ]; then
        echo "ERROR: no $stallscope or $fixture (set SS_BUILDDIR and SS_SRCDIR)"
        exit 99
    fi
    scratch
}

# The perf maps of the traced processes, which their runtimes never remove.
drop_tmp_maps() {
    find "$tmp" -name 'stallscope-*.trace' | while read -r trace; do
        pid=${trace##*/stallscope-}
        pid=${pid%.trace}
        case $pid in *[!0-9]* | '') continue ;; esac
        rm -f "/tmp/perf-$pid.map"
    done
}

# program_stderr FILE: what the traced program wrote to FILE, without the lines `stallscope
# run` adds itself (such as its warning about a perf map that an earlier process with the
# same pid left in /tmp).
program_stderr() {
    grep -v '^stallscope: ' "$1"
}

cleanup() {
    drop_tmp_maps
    rm -rf "$tmp"
}

fail() {
    echo "FAIL: $*"
    echo "--- fixture output"
    cat "$tmp/out" "$tmp/err"
    echo "--- stallscope report $tmp/run"
    "$stallscope" report "$tmp/run" 2>&1
    exit 1
}

# trace_python PYTHON: runs $fixture with the interpreter PYTHON under stallscope into $tmp/run,
# its output in $tmp/out and $tmp/err; says so and returns 1 when the program failed.
trace_python() {
    rm -rf "$tmp/run"
    "$stallscope" run -q -o "$tmp/run" -- "$1" "$fixture" >"$tmp/out" 2>"$tmp/err" && return 0
    echo "FAIL: $1 exited with an error under stallscope"
    cat "$tmp/out" "$tmp/err"
    return 1
}
