#!/bin/bash
# examples/redis: the recipe of its README, step by step. redis-server runs under stallscope,
# DEBUG SLEEP and KEYS * stall it, and the report names both commands in the stalls' stacks.
# scripts/setup.sh does not install redis (its Debian package starts a system-wide server):
# without it this test skips.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
skip_unless redis-server
skip_unless redis-cli

sock=$tmp/redis.sock
cli() { timeout 60 redis-cli -s "$sock" "$@"; }

start_piped redis "$stallscope" run -o "$tmp/redis.run" -- redis-server --port 0 --unixsocket "$sock" \
    --save '' --appendonly no --enable-debug-command local
for _ in $(seq 100); do
    [ "$(cli PING 2>/dev/null)" = PONG ] && break
    sleep 0.1
done
if [ "$(cli PING 2>/dev/null)" != PONG ]; then
    echo "FAIL: redis-server did not start under stallscope"
    exit 1
fi
cli DEBUG SLEEP 0.2 >/dev/null || fail "DEBUG SLEEP failed"
cli DEBUG POPULATE 1000000 >/dev/null || fail "DEBUG POPULATE failed"
[ "$(cli KEYS '*' | wc -l)" -eq 1000000 ] || fail "KEYS * did not list 1000000 keys"
cli SHUTDOWN NOSAVE >/dev/null 2>&1
finish_piped || fail "stallscope run -- redis-server exited with $status"

"$stallscope" report --top 10 --depth 8 "$tmp/redis.run" >"$tmp/report.txt" 2>&1 || fail "report failed"
for want in 'blocked in (nanosleep|usleep)\(\) for 20[0-9]ms' ' debugCommand ' ' keysCommand '; do
    grep -qE "$want" "$tmp/report.txt" || fail "the report has no line matching '$want'"
done
"$stallscope" check --max-stall 100ms "$tmp/redis.run" >"$tmp/check.txt"
[ $? -eq 1 ] || fail "check --max-stall 100ms did not fail"
[ "$failures" -eq 0 ] && echo "ok: redis: DEBUG SLEEP and KEYS * named" && exit 0
sed 's/^/    /' "$tmp/report.txt" "$tmp/check.txt"
exit 1
