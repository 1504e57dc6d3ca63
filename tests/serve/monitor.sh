#!/bin/sh
# serve --monitor NAME -o DIR is the machine's monitor: a program started with the shim in
# LD_PRELOAD and monitor=NAME in STALLSCOPE_OPTIONS shows up in its metrics, and SIGTERM ends
# serve and its monitor.
# Exit status follows the automake test driver: 0 pass, 1 fail, 77 skip, 99 harness error.
# shellcheck source=../lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"
# shellcheck source=lib.sh
. "$SS_SRCDIR/tests/serve/lib.sh"
fixture=$SS_BUILDDIR/tests/fixtures/loop-fixture-O2
need_built "$stallscope" "$fixture" "$shim"
skip_unless python3
scratch
name=serve-test-$$
start_serve --monitor "$name" -o "$tmp/machine"
monitor=$(pgrep -f -- "monitor --listen $name ")
[ -n "$monitor" ] || fail "no monitor listening under $name"
LD_PRELOAD=$shim STALLSCOPE_OPTIONS="monitor=$name:threshold=5ms" "$fixture" --spin 20 >/dev/null ||
    fail "the preloaded fixture failed"
tries=0
until get /metrics 2>/dev/null | grep -q '^stallscope_stalls_total{process="loop-fixture-O2".*} [1-9]'; do
    tries=$((tries + 1))
    [ "$tries" -lt 50 ] || { fail "the preloaded fixture's stall never showed"; break; }
    sleep 0.1
done
[ "$tries" -lt 50 ] && ok "the preloaded fixture's stall is served"
stop_serve
for _ in 1 2 3 4 5 6 7 8 9 10; do
    kill -0 "$monitor" 2>/dev/null || break
    sleep 0.2
done
kill -0 "$monitor" 2>/dev/null && fail "the monitor outlived serve" || ok "the monitor ended with serve"
[ "$failures" -eq 0 ]
