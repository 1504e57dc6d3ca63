#!/bin/sh
# stallscope attach on real servers started without the shim, while they serve: redis-server
# under redis-benchmark, with DEBUG SLEEP 0.2 sent while attached (the stall must be in the
# run with debugCommand in its stack and the sleep as a blocking call), and nginx (master and
# worker) under wrk, attached to its worker. No request fails, each server answers after the
# detach and stops cleanly. Skipped, with a message, where a server or load tool is absent.
# shellcheck source=../lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"
need_built "$stallscope"
scratch
cleanup() {
    [ -n "${redis_pid:-}" ] && kill "$redis_pid" 2>/dev/null
    [ -n "${nginx_pid:-}" ] && kill -QUIT "$nginx_pid" 2>/dev/null
    rm -rf "$tmp"
}
tested=0
fetched() { # URL: the size of its body, or nothing
    python3 -c 'import sys, urllib.request; print(len(urllib.request.urlopen(sys.argv[1], timeout=5).read()))' "$1" 2>/dev/null
}

attach_while() { # NAME PID SECONDS: attach in the background into $tmp/NAME.run
    "$stallscope" attach -o "$tmp/$1.run" --duration "$3s" "$2" 2>"$tmp/$1.attach" &
    attach_pid=$!
    for _ in $(seq 100); do
        grep -q "attached to process" "$tmp/$1.attach" && return 0
        sleep 0.05
    done
    fail "$1: attach did not attach: $(cat "$tmp/$1.attach")"
}

attach_done() { # NAME
    wait "$attach_pid"
    status=$?
    [ "$status" -eq 0 ] || fail "$1: attach exited with $status: $(cat "$tmp/$1.attach")"
    grep -q "detached from process" "$tmp/$1.attach" || fail "$1: attach did not detach"
}

if command -v redis-server >/dev/null 2>&1 && command -v redis-benchmark >/dev/null 2>&1 &&
    command -v redis-cli >/dev/null 2>&1; then
    sock=$tmp/redis.sock
    redis-server --port 0 --unixsocket "$sock" --save '' --appendonly no \
        --enable-debug-command local >"$tmp/redis.out" 2>&1 &
    redis_pid=$!
    for _ in $(seq 100); do
        [ "$(redis-cli -s "$sock" PING 2>/dev/null)" = PONG ] && break
        sleep 0.1
    done
    attach_while redis "$redis_pid" 3
    redis-benchmark -s "$sock" -n 30000 -c 10 -q -t set,get >"$tmp/bench.out" 2>&1 ||
        fail "redis: redis-benchmark failed: $(cat "$tmp/bench.out")"
    redis-cli -s "$sock" DEBUG SLEEP 0.2 >/dev/null || fail "redis: DEBUG SLEEP failed"
    attach_done redis
    [ "$(redis-cli -s "$sock" PING 2>/dev/null)" = PONG ] || fail "redis: no answer after the detach"
    redis-cli -s "$sock" SHUTDOWN NOSAVE >/dev/null 2>&1
    wait "$redis_pid" || fail "redis: exited with $?"
    redis_pid=
    "$stallscope" report --depth 12 "$tmp/redis.run" >"$tmp/redis.report" 2>&1
    for want in ' debugCommand ' 'blocked in (nanosleep|usleep)\(\) for 20[0-9]ms'; do
        grep -qE "$want" "$tmp/redis.report" || fail "redis: the report has no line matching '$want'"
    done
    grep -qi "error" "$tmp/bench.out" && fail "redis: redis-benchmark saw errors"
    tested=$((tested + 1))
else
    echo "SKIP: redis-server, redis-benchmark or redis-cli not installed"
fi

if command -v nginx >/dev/null 2>&1 && command -v wrk >/dev/null 2>&1; then
    port=$((21000 + $$ % 4000))
    mkdir -p "$tmp/nginx/www" "$tmp/nginx/tmp"
    head -c 4096 /dev/zero | tr '\0' x >"$tmp/nginx/www/index.html"
    # Started as root, nginx's worker runs as nobody: it must read the page.
    chmod a+rx "$tmp" "$tmp/nginx" "$tmp/nginx/www"
    chmod a+r "$tmp/nginx/www/index.html"
    cat >"$tmp/nginx/nginx.conf" <<CONF
daemon off;
worker_processes 1;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path $tmp/nginx/tmp;
    proxy_temp_path $tmp/nginx/tmp;
    fastcgi_temp_path $tmp/nginx/tmp;
    uwsgi_temp_path $tmp/nginx/tmp;
    scgi_temp_path $tmp/nginx/tmp;
    server { listen 127.0.0.1:$port; root $tmp/nginx/www; }
}
CONF
    nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" &
    nginx_pid=$!
    worker=
    for _ in $(seq 100); do
        worker=$(pgrep -P "$nginx_pid" | head -1)
        [ -n "$worker" ] && [ -n "$(fetched "http://127.0.0.1:$port/")" ] && break
        sleep 0.1
    done
    if [ -z "$worker" ]; then
        fail "nginx: no worker started: $(cat "$tmp/nginx/error.log")"
    else
        wrk -t1 -c20 -d4s "http://127.0.0.1:$port/" >"$tmp/wrk.out" 2>&1 &
        wrk_pid=$!
        sleep 0.5
        attach_while nginx "$worker" 2
        attach_done nginx
        wait "$wrk_pid"
        grep -q "requests in" "$tmp/wrk.out" || fail "nginx: wrk did not run: $(cat "$tmp/wrk.out")"
        grep -Eq "Socket errors|Non-2xx" "$tmp/wrk.out" && fail "nginx: wrk saw errors: $(cat "$tmp/wrk.out")"
        "$stallscope" report "$tmp/nginx.run" >"$tmp/nginx.report" 2>&1
        grep -Eq "^ +$worker +nginx +[0-9]+" "$tmp/nginx.report" ||
            fail "nginx: the worker's loop is not in the run: $(cat "$tmp/nginx.report")"
        [ "$(fetched "http://127.0.0.1:$port/")" = 4096 ] || fail "nginx: no answer after the detach"
    fi
    kill -QUIT "$nginx_pid"
    wait "$nginx_pid" || fail "nginx: exited with $?"
    nginx_pid=
    tested=$((tested + 1))
else
    echo "SKIP: nginx or wrk not installed"
fi
[ "$tested" -gt 0 ] || exit 77
[ "$failures" -eq 0 ] || exit 1
echo "PASS: real servers attached and detached while serving"
