#!/bin/sh
# Shell and process plumbing: runs each case in cases/ (*.sh under bash and dash, *.bash
# under bash) with a pipe on its standard input, in a directory of its own, and records
# its exit status and a digest of its stdout and stderr (kept in OUT/CASE/).
# Usage: run.sh OUT (the pass comes from the environment, see ../lib.sh).
set -u
OUT=$1
. "$(dirname "$0")/../lib.sh"
cases=$CONFORMANCE_DIR/shell/cases
: >"$OUT/results"
# Less than PIPE_BUF, so that it reaches the pipe in one piece: what a child that reads a
# buffer's worth takes from it is the same in every run.
{
    printf 'first line\nsecond line\nthird line\nfourth line\nabcdefgh\n'
    seq 1 500
} >"$OUT/input"
for case in "$cases"/*.sh "$cases"/*.bash; do
    name=${case##*/}
    case $name in *.sh) shells="bash dash" ;; *) shells=bash ;; esac
    for shell in $shells; do
        id=$name@$shell
        dir=$OUT/$id
        mkdir -p "$dir/work"
        # shellcheck disable=SC2002 # stdin is to be a pipe, as in `producer | script`
        (cd "$dir/work" && cat "$OUT/input" |
            boxed 10 "$dir/trace" "/bin/$shell" "$case" >../stdout 2>../stderr
         echo $? >../status)
        result "$id" "status=$(cat "$dir/status") stdout=$(digest "$dir/stdout")\
 stderr=$(host_stderr_digest "$dir/stderr")" "$dir"
    done
done
