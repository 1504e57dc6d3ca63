#!/bin/sh
# 200 short-lived traced processes, one after the other, while a client scrapes /metrics every
# 100 ms: serve answers every scrape, its memory after the 200 is not far above what it was
# after the first 50, and with --age-out 2s the processes leave the metrics once they have
# ended. Then one more process: serve opens its trace, not again those of the 200 that aged
# out.
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
    'for i in $(seq 200); do "$1" --spin 8 >/dev/null || exit 1; done; touch "$2"
    while [ ! -e "$3" ]; do sleep 0.1; done; "$1" --spin 8 >/dev/null' \
    sh "$fixture" "$tmp/200-done" "$tmp/one-more" >/dev/null 2>"$tmp/run.err" &
run_pid=$!
until [ "$(find "$tmp/run" -name 'stallscope-*.trace' | wc -l)" -ge 50 ]; do
    kill -0 "$run_pid" 2>/dev/null || break
    sleep 0.1
done
sleep 1.5 # serve reads the 50th
rss_50=$(rss)
until [ -e "$tmp/200-done" ]; do
    kill -0 "$run_pid" 2>/dev/null || { echo "ERROR: the run failed: $(cat "$tmp/run.err")"; exit 99; }
    sleep 0.1
done
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

# Which trace files serve reads (strace; read(2) is the loader's, the pread(2) of a file's first
# bytes only tells which process it is of) while it takes in the one more process: that one's,
# and none of the 200 that aged out, which it would read again if it read the whole directory.
if command -v strace >/dev/null 2>&1; then
    find "$tmp/run" -name 'stallscope-*.trace' -printf '%f\n' | sort >"$tmp/aged"
    strace -f -qq -y -e trace=read -o "$tmp/reads" -p "$serve_pid" 2>"$tmp/strace.err" &
    tracer=$!
    sleep 1 # strace says nothing once attached
    touch "$tmp/one-more"
    wait "$run_pid" || fail "the run failed: $(cat "$tmp/run.err")"
    sleep 1.5
    get /metrics "$tmp/metrics" || fail "GET /metrics after one more process"
    kill "$tracer"
    { wait "$tracer"; } 2>/dev/null
    grep -o 'stallscope-[0-9.]*\.trace>' "$tmp/reads" | tr -d '>' | sort -u >"$tmp/read"
    again=$(comm -12 "$tmp/aged" "$tmp/read" | wc -l)
    new=$(comm -13 "$tmp/aged" "$tmp/read" | wc -l)
    grep -q '^stallscope_traced_processes 1$' "$tmp/metrics" || fail "the one more process is not shown"
    [ "$again" -eq 0 ] && [ "$new" -ge 1 ] &&
        ok "serve read the new trace and none of the $(wc -l <"$tmp/aged") that aged out" ||
        fail "serve read $again aged-out traces again, and $new new ones"
else
    echo "strace is not installed: the reading of aged-out traces is not checked"
    touch "$tmp/one-more"
    wait "$run_pid"
fi
stop_serve
[ "$failures" -eq 0 ]
