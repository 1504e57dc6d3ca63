#!/bin/sh
# Prometheus itself scrapes serve every second while the C fixture stalls on purpose, and
# after it ends: the stalls it has then, summed, are the stalls `export --format json` counts
# for the same run, and its histogram_quantile(0.99) of the busy-time buckets lies in the
# bucket of the p99 the export estimates from the same histogram.
# Exit status follows the automake test driver: 0 pass, 1 fail, 77 skip, 99 harness error.
# shellcheck source=../lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"
# shellcheck source=lib.sh
. "$SS_SRCDIR/tests/serve/lib.sh"
fixture=$SS_BUILDDIR/tests/fixtures/loop-fixture-O2
need_built "$stallscope" "$fixture"
skip_unless python3
skip_unless prometheus
scratch
cleanup() {
    [ -n "$prom_pid" ] && kill "$prom_pid" 2>/dev/null && wait "$prom_pid"
    [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null
    rm -rf "$tmp"
}
mkdir -m 700 "$tmp/run"
start_serve "$tmp/run"

prom_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$tmp/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: stallscope
    static_configs:
      - targets: ["${url#http://}"]
YML
prometheus --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/tsdb" \
    --web.listen-address="127.0.0.1:$prom_port" >"$tmp/prometheus.log" 2>&1 &
prom_pid=$!
api=http://127.0.0.1:$prom_port/api/v1/query

# query PROMQL: the value of the single sample of an instant query, empty when there is none.
query() {
    python3 - "$api" "$1" <<'PY'
import json, sys, urllib.parse, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1] + "?" + urllib.parse.urlencode({"query": sys.argv[2]})) as a:
        result = json.load(a)["data"]["result"]
except OSError:
    result = []
if result:
    print(result[0]["value"][1])
PY
}
# wait_for PROMQL PYTHON-CONDITION SECONDS: polls until the value v satisfies the condition.
wait_for() {
    end=$(($(date +%s) + $3))
    while [ "$(date +%s)" -lt "$end" ]; do
        v=$(query "$1")
        [ -n "$v" ] && python3 -c "import sys; v = float(sys.argv[1]); sys.exit(0 if $2 else 1)" "$v" &&
            return 0
        sleep 0.5
    done
    return 1
}

wait_for 'up{job="stallscope"}' "v == 1" 30 ||
    { echo "ERROR: Prometheus does not scrape serve: $(tail -3 "$tmp/prometheus.log")"; exit 99; }
"$stallscope" run -q -o "$tmp/run" --threshold 10ms -- "$fixture" --spin 20 --sleep 15 \
    --repeat 200 >/dev/null 2>"$tmp/run.err" &
run_pid=$!
if wait_for stallscope_traced_processes "v == 1" 20 && kill -0 "$run_pid" 2>/dev/null; then
    ok "Prometheus saw the process live, with $(query 'sum(stallscope_stalls_total)') stalls then"
else
    fail "Prometheus did not see the process while it ran: $(tail -3 "$tmp/prometheus.log")"
fi
wait "$run_pid" || { echo "ERROR: the run failed: $(cat "$tmp/run.err")"; exit 99; }
"$stallscope" export --format json -o "$tmp/run.json" "$tmp/run" || fail "export failed"
read -r want_stalls p99_ns <<EOF2
$(python3 - "$tmp/run.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))["processes"][0]
stalls = len(p["stalls"]) + p.get("summarised", {}).get("stalls", 0)
print(stalls, p["threads"][0]["busy_ns"]["p99"])
PY
)
EOF2
# Two scrapes at least after serve has read the end of the run.
sleep 3
if wait_for 'sum(stallscope_stalls_total)' "v == $want_stalls" 15; then
    ok "Prometheus sums $want_stalls stalls, as the JSON export counts"
else
    fail "Prometheus sums $(query 'sum(stallscope_stalls_total)') stalls, the export $want_stalls"
fi
scrapes=$(query 'count_over_time(stallscope_traced_processes[5m])')
[ "${scrapes:-0}" -ge 2 ] 2>/dev/null || fail "only ${scrapes:-0} scrapes stored"
q99=$(query 'histogram_quantile(0.99, sum by (le) (stallscope_loop_busy_seconds_bucket))')
python3 - "$q99" "$p99_ns" <<'PY' || fail "histogram_quantile(0.99) $q99 s against the export's p99 $p99_ns ns"
import sys
q99_ns, p99_ns = float(sys.argv[1]) * 1e9, int(sys.argv[2])
# The shim's buckets: [2^(k+9), 2^(k+10)) ns for k >= 1.
k = max(p99_ns >> 10, 1).bit_length()
lo, hi = 1 << (k + 9), 1 << (k + 10)
assert lo - 1 <= q99_ns <= hi + 1, f"{q99_ns:.0f} ns outside [{lo}, {hi}) of the p99 {p99_ns} ns"
print(f"ok: histogram_quantile(0.99) = {q99_ns / 1e6:.2f} ms, in the bucket [{lo / 1e6:.2f}, {hi / 1e6:.2f}) ms of the export's p99 {p99_ns / 1e6:.2f} ms")
PY
stop_serve
serve_pid=
[ "$failures" -eq 0 ]
