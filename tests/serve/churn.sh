#!/bin/sh
# 200 short-lived traced processes, one after the other, while a client scrapes /metrics every
# 100 ms: serve answers every scrape, its memory after the 200 is not far above what it was
# after the first 50, and with --age-out 2s the processes leave the metrics once they have
# ended.
# Exit status follows the automake test driver: 0 pass, 1 fail, 77 skip, 99 harness error.
# shellcheck source=../lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"
# shellcheck source=lib.sh
. "$SS_SRCDIR/tests/serve/lib.sh"
fixture=$SS_BUILDDIR/tests/fixtures/loop-fixture-O2
need_built "$stallscope" "$fixture"
skip_unless python3
scratch
mkdir -m 700 "$tmp/run"
start_serve --age-out 2s "$tmp/run"

python3 - "$url/metrics" "$tmp/stop" >"$tmp/scrapes" <<'PY' &
import os, sys, time, urllib.request
scrapes = failures = most = 0
while not os.path.exists(sys.argv[2]):
    try:
        with urllib.request.urlopen(sys.argv[1], timeout=5) as a:
            for line in a.read().decode().splitlines():
                if line.startswith("stallscope_traced_processes "):
                    most = max(most, int(line.split()[1]))
        scrapes += 1
    except OSError:
        failures += 1
    time.sleep(0.1)
print(scrapes, failures, most)
PY
scraper=$!

rss() { awk '/^VmRSS:/ {print $2}' "/proc/$serve_pid/status"; }
"$stallscope" run -q -o "$tmp/run" --threshold 5ms -- sh -c \
    'for i in $(seq 200); do "$1" --spin 8 >/dev/null || exit 1; done' sh "$fixture" \
    >/dev/null 2>"$tmp/run.err" &
run_pid=$!
until [ "$(find "$tmp/run" -name 'stallscope-*.trace' | wc -l)" -ge 50 ]; do
    kill -0 "$run_pid" 2>/dev/null || break
    sleep 0.1
done
sleep 1.5 # serve reads the 50th
rss_50=$(rss)
wait "$run_pid" || { echo "ERROR: the run failed: $(cat "$tmp/run.err")"; exit 99; }
traces=$(find "$tmp/run" -name 'stallscope-*.trace' | wc -l)
[ "$traces" -ge 200 ] || fail "only $traces traces for 200 processes"
sleep 1.5
rss_200=$(rss)
# Every process has ended: 2s after its last record, plus a refresh, none is left.
sleep 3
touch "$tmp/stop"
wait "$scraper"
read -r scrapes failures_seen most <"$tmp/scrapes"

kill -0 "$serve_pid" 2>/dev/null || fail "serve is gone: $(cat "$tmp/serve.err")"
[ "$failures_seen" -eq 0 ] && [ "$scrapes" -ge 50 ] &&
    ok "$scrapes scrapes answered, none failed" || fail "$failures_seen of $scrapes scrapes failed"
limit=$((rss_50 * 3 / 2 + 4096))
[ "$rss_200" -le "$limit" ] && ok "RSS $rss_50 kB after 50 processes, $rss_200 kB after 200" ||
    fail "RSS $rss_50 kB after 50 processes, $rss_200 kB after 200 (limit $limit kB)"
get /metrics "$tmp/metrics" || fail "GET /metrics after the churn"
[ "$most" -ge 1 ] && grep -q '^stallscope_traced_processes 0$' "$tmp/metrics" &&
    ! grep -q '^stallscope_stalls_total{' "$tmp/metrics" &&
    ok "up to $most processes shown at once, none once they aged out" ||
    fail "up to $most processes shown; at the end: $(grep -c '^stallscope_' "$tmp/metrics") series"
stop_serve
[ "$failures" -eq 0 ]
