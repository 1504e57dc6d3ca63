#!/bin/sh
# Node.js: runs each *.test.mjs here with `node --test` (TAP), one file at a time, and
# records every test's result, and the file's exit status, stderr and stdout (the TAP output
# without its timings) as digests; outputs are kept in OUT/FILE/ (tap: with the timings).
# Usage: run.sh OUT (the pass comes from the environment, see ../lib.sh).
set -u
OUT=$1
. "$(dirname "$0")/../lib.sh"
: >"$OUT/results"
if ! command -v node >/dev/null 2>&1; then
    echo "SKIP: node is not installed" >"$OUT/skipped"
    exit 0
fi
for file in "$CONFORMANCE_DIR"/node/*.test.mjs; do
    name=${file##*/}
    dir=$OUT/$name
    mkdir -p "$dir/work"
    (cd "$dir/work" &&
        boxed 60 "$dir/trace" node --test --test-reporter=tap "$file" </dev/null >../tap 2>../stderr
     echo $? >../status)
    status=$(cat "$dir/status")
    "$PY" "$CONFORMANCE_DIR/tap2results.py" "$name" "$dir/tap" "$status" |
        sed "s|\$|	$dir|" >>"$OUT/results"
    grep -v 'duration_ms' "$dir/tap" >"$dir/stdout"
    result "$name (output)" "status=$status stdout=$(digest "$dir/stdout")\
 stderr=$(host_stderr_digest "$dir/stderr")" "$dir"
    # Node writes JavaScript symbol maps for the shim's traces into /tmp: remove ours.
    for trace in "$dir"/trace/stallscope-*.trace; do
        [ -e "$trace" ] || continue
        pid=${trace##*/stallscope-}
        rm -f "/tmp/perf-${pid%.trace}.map"
    done
done
