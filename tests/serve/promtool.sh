#!/bin/sh
# serve's /metrics passes `promtool check metrics` for a finished run with stalls and blocking
# calls, for an empty run directory, and for a Python loop whose thread name holds UTF-8, a
# byte that is not, and a double quote (kept, replaced by U+FFFD, escaped); its content type is
# the text format's 0.0.4. A loop hung in a pipe read shows in stallscope_stall_in_progress_seconds
# and in no stall counter until its stall ends.
# Exit status follows the automake test driver: 0 pass, 1 fail, 77 skip, 99 harness error.
# shellcheck source=../lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"
# shellcheck source=lib.sh
. "$SS_SRCDIR/tests/serve/lib.sh"
fixture=$SS_BUILDDIR/tests/fixtures/loop-fixture-O2
need_built "$stallscope" "$fixture"
skip_unless python3
skip_unless promtool
scratch
cleanup() {
    [ -n "$hung_pid" ] && kill -TERM "$hung_pid" 2>/dev/null
    [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null
    rm -rf "$tmp"
}

"$stallscope" run -q -o "$tmp/run" --threshold 5ms -- "$fixture" --spin 12 --sleep 8 --repeat 5 \
    >/dev/null 2>"$tmp/run.err" || { echo "ERROR: the run failed: $(cat "$tmp/run.err")"; exit 99; }
mkdir -m 700 "$tmp/empty"
"$stallscope" run -q -o "$tmp/named" --threshold 20ms -- python3 -c '
import asyncio, ctypes, time
ctypes.CDLL(None).prctl(15, b"w\xc3\xbcrker-\xff\"x", 0, 0, 0)
async def main():
    await asyncio.sleep(0.05)
    end = time.monotonic() + 0.1
    while time.monotonic() < end:
        pass
    await asyncio.sleep(0.05)
asyncio.run(main())' >/dev/null 2>"$tmp/named.err" ||
    { echo "ERROR: the Python run failed: $(cat "$tmp/named.err")"; exit 99; }

for dir in run empty named; do
    start_serve "$tmp/$dir"
    get /metrics "$tmp/$dir.metrics" || fail "GET /metrics of $dir"
    if promtool check metrics <"$tmp/$dir.metrics" >"$tmp/promtool.out" 2>&1; then
        ok "promtool check metrics: the $dir directory's metrics pass"
    else
        fail "promtool check metrics on the $dir directory's metrics:"
        sed 's/^/    /' "$tmp/promtool.out"
    fi
    stop_serve
done
grep -q '^stallscope_stalls_total{.*cause="cpu:code"} [1-9]' "$tmp/run.metrics" ||
    fail "no cpu:code stalls in the run's metrics"
grep -q '^stallscope_blocking_calls_total{.*category="sleep",function="nanosleep"} 1$' \
    "$tmp/run.metrics" || fail "the planted sleep is not a blocking call in the metrics"
grep -q '^stallscope_traced_processes 0$' "$tmp/empty.metrics" ||
    fail "the empty directory's metrics do not say 0 processes"
python3 - "$tmp/named.metrics" <<'PY' || fail "the thread's name in the Python loop's metrics"
import sys
want = 'thread="w\u00fcrker-\ufffd\\"x"'
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
assert any(l.startswith("stallscope_stalls_total{") and want in l for l in lines), \
    [l for l in lines if "thread=" in l][:2]
print(f"ok: the thread is {want}")
PY

mkdir -m 700 "$tmp/hung"
"$stallscope" run -q -o "$tmp/hung" -- "$SS_BUILDDIR/tests/fixtures/hung-fixture" pipe \
    >"$tmp/hung.out" 2>"$tmp/hung.err" &
hung_pid=$!
start_serve "$tmp/hung"
tries=0
until get /metrics "$tmp/hung.metrics" &&
    grep -qE '^stallscope_stall_in_progress_seconds\{.*\} ([2-9]|[1-9][0-9]+)(\.|$)' "$tmp/hung.metrics"; do
    tries=$((tries + 1))
    [ "$tries" -lt 100 ] || break
    sleep 0.1
done
grep -qE '^stallscope_stall_in_progress_seconds\{.*\} ([2-9]|[1-9][0-9]+)(\.|$)' "$tmp/hung.metrics" &&
    ! grep -q '^stallscope_stalls_total{' "$tmp/hung.metrics" &&
    ok "the hung loop: $(grep '^stallscope_stall_in_progress_seconds{' "$tmp/hung.metrics")" ||
    fail "the hung loop is not in progress for 2 s or more, or is counted: $(grep -E 'in_progress|stalls_total\{' "$tmp/hung.metrics")"
promtool check metrics <"$tmp/hung.metrics" >"$tmp/promtool.out" 2>&1 ||
    fail "promtool check metrics on the hung loop's metrics: $(cat "$tmp/promtool.out")"
stop_serve
kill -TERM "$hung_pid"
wait "$hung_pid"
hung_pid=

start_serve "$tmp/run"
python3 - "$url/metrics" <<'PY' || fail "the content type of /metrics"
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1]) as answer:
    got = answer.headers["Content-Type"]
assert got == "text/plain; version=0.0.4; charset=utf-8", got
print(f"ok: Content-Type: {got}")
PY
stop_serve
[ "$failures" -eq 0 ]
