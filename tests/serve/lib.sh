# shellcheck shell=sh
# Sourced by the serve tests after tests/lib/lib.sh: starts serve on a free port of loopback
# and asks it over HTTP (fetch.py). Uses $stallscope and $tmp of tests/lib/lib.sh.
# shellcheck disable=SC2154

fetch_py=$SS_SRCDIR/tests/serve/fetch.py

# start_serve ARGS...: `stallscope serve --listen 127.0.0.1:0 ARGS` in the background, its
# standard error in $tmp/serve.err; sets $serve_pid and $url once it listens.
start_serve() {
    : >"$tmp/serve.err"
    "$stallscope" serve --listen 127.0.0.1:0 "$@" 2>"$tmp/serve.err" &
    serve_pid=$!
    tries=0
    until grep -q "serving on" "$tmp/serve.err"; do
        tries=$((tries + 1))
        if [ "$tries" -gt 200 ] || ! kill -0 "$serve_pid" 2>/dev/null; then
            echo "ERROR: serve did not start: $(cat "$tmp/serve.err")"
            exit 99
        fi
        sleep 0.05
    done
    url=http://$(sed -n 's/.*serving on \(127\.0\.0\.1:[0-9]*\)$/\1/p' "$tmp/serve.err")
}

# stop_serve: SIGTERM, then its exit status must be 0.
stop_serve() {
    kill -TERM "$serve_pid"
    wait "$serve_pid"
    rc=$?
    [ "$rc" -eq 0 ] || fail "serve exited with $rc on SIGTERM: $(cat "$tmp/serve.err")"
}

# get PATH [FILE]: the body of $url/PATH into FILE (default: standard output); the status of
# the answer is fetch.py's.
get() {
    python3 "$fetch_py" "$url$1" >"${2:-/dev/stdout}"
}
