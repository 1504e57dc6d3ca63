#!/bin/sh
# serve's mistakes and troubles: a run directory that does not exist, a bad --listen, a port
# already in use and wrong options are one-line usage errors (status 2); a corrupt trace in a
# followed directory is left out while the others are served, told on /healthz and once on
# standard error; a directory that goes away is told, and /healthz answers 503 when no
# directory can be read.
# Exit status follows the automake test driver: 0 pass, 1 fail, 77 skip, 99 harness error.
# shellcheck source=../lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"
# shellcheck source=lib.sh
. "$SS_SRCDIR/tests/serve/lib.sh"
fixture=$SS_BUILDDIR/tests/fixtures/loop-fixture-O2
need_built "$stallscope" "$fixture"
skip_unless python3
scratch
mkdir -m 700 "$tmp/good" "$tmp/gone"

stallscope_exits 2 "serve: $tmp/missing: No such file or directory" serve --listen 127.0.0.1:0 \
    "$tmp/missing"
stallscope_exits 2 "--listen: expected ADDR:PORT" serve --listen localhost "$tmp/good"
stallscope_exits 2 "--listen: expected ADDR:PORT" serve --listen 127.0.0.1:65536 "$tmp/good"
stallscope_exits 2 "--listen: expected ADDR:PORT" serve --listen '[::1:80' "$tmp/good"
stallscope_exits 2 "--age-out: invalid duration" serve --age-out soon "$tmp/good"
stallscope_exits 2 "unknown option '--port'" serve --port 80 "$tmp/good"
stallscope_exits 2 "no run directory given" serve --listen 127.0.0.1:0
stallscope_exits 2 "--monitor needs -o DIR" serve --listen 127.0.0.1:0 --monitor x
stallscope_exits 2 "-o DIR goes with --monitor" serve --listen 127.0.0.1:0 -o "$tmp/good"
stallscope_exits 2 "are the same directory" serve --listen 127.0.0.1:0 "$tmp/good" "$tmp/good/"

"$stallscope" run -q -o "$tmp/good" --threshold 5ms -- "$fixture" --spin 12 >/dev/null \
    2>"$tmp/run.err" || { echo "ERROR: the run failed: $(cat "$tmp/run.err")"; exit 99; }
# Past the header, so that it is not taken for a trace that is just starting.
head -c 4096 /dev/urandom >"$tmp/good/stallscope-999999.trace"

start_serve "$tmp/good" "$tmp/gone"
port=${url##*:}
stallscope_exits 2 "cannot listen on 127.0.0.1:$port: Address already in use" serve \
    --listen "127.0.0.1:$port" "$tmp/good"

get /metrics "$tmp/metrics" || fail "GET /metrics with a corrupt trace"
grep -q '^stallscope_traced_processes 1$' "$tmp/metrics" &&
    grep -q '^stallscope_stalls_total{.*} [1-9]' "$tmp/metrics" &&
    ok "the readable trace is served beside the corrupt one" ||
    fail "the readable trace is not served: $(grep -v '^#' "$tmp/metrics" | head -3)"
get /healthz "$tmp/health" || fail "/healthz is not 200 with a corrupt trace"
grep -q "^ok$" "$tmp/health" && grep -q "partly read: .*stallscope-999999.trace" "$tmp/health" &&
    ok "/healthz names the corrupt trace" || fail "/healthz: $(cat "$tmp/health")"
[ "$(grep -c "stallscope-999999.trace" "$tmp/serve.err")" -eq 1 ] &&
    ok "the corrupt trace told once on stderr" || fail "stderr: $(cat "$tmp/serve.err")"

rmdir "$tmp/gone"
sleep 2.5
get /healthz "$tmp/health" || fail "/healthz is not 200 with one directory left"
grep -q "not read: $tmp/gone: No such file or directory" "$tmp/health" &&
    ok "/healthz names the directory that went away" || fail "/healthz: $(cat "$tmp/health")"
get /nowhere "$tmp/body" 2>/dev/null && fail "GET /nowhere answered 200"
python3 - "$url/metrics" <<'PY' || fail "POST /metrics is not a 405 with Allow"
import sys, urllib.error, urllib.request
try:
    urllib.request.urlopen(urllib.request.Request(sys.argv[1], data=b"x", method="POST"))
    sys.exit("POST answered 200")
except urllib.error.HTTPError as e:
    assert e.code == 405 and e.headers["Allow"] == "GET, HEAD", (e.code, e.headers["Allow"])
print("ok: POST /metrics: 405, Allow: GET, HEAD")
PY
stop_serve

mkdir -m 700 "$tmp/alone"
start_serve "$tmp/alone"
rmdir "$tmp/alone"
sleep 2.5
if get /healthz "$tmp/health" 2>"$tmp/status"; then
    fail "/healthz answered 200 with no directory readable"
else
    grep -q "status 503" "$tmp/status" && ok "/healthz: 503 when no directory can be read" ||
        fail "/healthz: $(cat "$tmp/status" "$tmp/health")"
fi
stop_serve
[ "$failures" -eq 0 ]
