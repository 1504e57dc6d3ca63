# Sourced by the example tests. Runs an example server under `stallscope run --check`, sends
# it a few requests with bash's /dev/tcp, stops it with SIGTERM (run forwards it) and keeps
# what the check printed, so that the test can look for the findings the README shows.
# Exit status of the tests follows the automake driver: 0 pass, 1 fail, 77 skip, 99 error.

# A loaded machine can fail a run that is right: a blocking call site keeps the stack of its
# first call, which can come before the shim has loaded its unwinder (the finding then names
# no function), and a fixed twin's way out (an interpreter's final garbage collection) can
# outlast --max-stall when it gets a third of a CPU. A real regression fails both attempts;
# the retry is printed.
if [ -z "${SS_EXAMPLE_ATTEMPT:-}" ]; then
    SS_EXAMPLE_ATTEMPT=1 bash "$0" "$@"
    rc=$?
    [ "$rc" -eq 1 ] || exit "$rc"
    echo "retrying once"
    SS_EXAMPLE_ATTEMPT=2 exec bash "$0" "$@"
fi

# shellcheck source=../lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"
EXAMPLES=$SS_SRCDIR/examples
server=
need_built "$stallscope"
scratch
# forget_jit_maps DIR: removes the JIT maps Node.js left in /tmp for the traces under DIR
# (run has copied them into the run directories).
forget_jit_maps() {
    find "$1" -name 'stallscope-*.trace' | while read -r trace; do
        pid=${trace##*/stallscope-}
        rm -f "/tmp/perf-${pid%.trace}.map"
    done
}
cleanup() {
    [ -n "$server" ] && kill -KILL "$server" 2>/dev/null
    forget_jit_maps "$tmp"
    rm -rf "$tmp"
}

# start_piped NAME COMMAND...: starts COMMAND in the background with its standard output and
# error going through pipes into NAME.out and NAME.err, as from a terminal or a service
# manager (a server's own writes to a standard output that is a file would be blocking file
# calls on its loop); its pid is in $server. finish_piped: waits for it and for the copies,
# and returns its status.
start_piped() {
    mkfifo "$tmp/$1.out.pipe" "$tmp/$1.err.pipe" || exit 99
    cat <"$tmp/$1.out.pipe" >"$tmp/$1.out" &
    out_copy=$!
    cat <"$tmp/$1.err.pipe" >"$tmp/$1.err" &
    err_copy=$!
    name=$1
    shift
    "$@" >"$tmp/$name.out.pipe" 2>"$tmp/$name.err.pipe" &
    server=$!
}
finish_piped() {
    wait "$server"
    status=$?
    server=
    wait "$out_copy" "$err_copy"
    return "$status"
}

# request PORT PATH: one HTTP/1.0 GET, the reply on standard output.
request() {
    timeout 30 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" &&
        printf "GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n" "$2" >&3 && cat <&3' _ "$1" "$2"
}

# serve NAME WANT "PATH..." RUN-ARGS... -- COMMAND...: runs `stallscope run -o NAME.run
# RUN-ARGS -- COMMAND` in the background, waits for COMMAND's "listening on port N", requests
# each PATH, stops it and checks that run exits with WANT. The check's report is NAME.err.
serve() {
    name=$1 want=$2 paths=$3
    shift 3
    start_piped "$name" "$stallscope" run -o "$tmp/$name.run" "$@"
    port=
    for _ in $(seq 300); do
        port=$(sed -n 's/^listening on port \([0-9][0-9]*\)$/\1/p' "$tmp/$name.out" 2>/dev/null)
        [ -n "$port" ] || ! kill -0 "$server" 2>/dev/null && break
        sleep 0.1
    done
    if [ -z "$port" ]; then
        fail "$name: the server did not say which port it listens on"
    else
        for path in $paths; do
            request "$port" "$path" >>"$tmp/$name.replies" || fail "$name: GET $path failed"
        done
        grep -q '^HTTP/1\.[01] 200' "$tmp/$name.replies" || fail "$name: no reply was 200 OK"
        kill -TERM "$server" 2>/dev/null
    fi
    for _ in $(seq 300); do
        kill -0 "$server" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$server" 2>/dev/null
    finish_piped
    got=$?
    if [ "$got" -ne "$want" ]; then
        fail "$name: stallscope run exited with $got, want $want"
        sed 's/^/    /' "$tmp/$name.out" "$tmp/$name.err"
        return 1
    fi
    echo "ok: $name: status $got"
}

# expect_report NAME REGEX: the report of NAME's run, every stack in full, has a matching line.
expect_report() {
    "$stallscope" report --top 20 --depth 64 "$tmp/$1.run" >"$tmp/$1.report" 2>&1
    grep -qE -- "$2" "$tmp/$1.report" && return 0
    fail "$1: no line matching '$2' in:"
    sed 's/^/    /' "$tmp/$1.report"
}

# expect NAME REGEX / expect_no NAME REGEX: NAME's check report has (has no) a matching line.
expect() {
    grep -qE -- "$2" "$tmp/$1.err" && return 0
    fail "$1: no line matching '$2' in:"
    sed 's/^/    /' "$tmp/$1.err"
}
expect_no() {
    grep -qE -- "$2" "$tmp/$1.err" || return 0
    fail "$1: a line matching '$2' in:"
    sed 's/^/    /' "$tmp/$1.err"
}
