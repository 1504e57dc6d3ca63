#!/bin/sh
# serve's cost: CPU time and RSS of `stallscope serve` following a run directory of PROCS
# finished processes of the C fixture, beside the baseline of an empty directory, at start
# (its first reading of the directory) and over SCRAPES scrapes of /metrics. Run by
# scripts/bench, which sets SS and OUT; FIXTURE is the C fixture (tests/fixtures).
set -eu
PROCS=${PROCS:-100}
SCRAPES=${SCRAPES:-200}
FIXTURE=${FIXTURE:-$(dirname "$SS")/tests/fixtures/loop-fixture-O2}
hz=$(getconf CLK_TCK)

cpu_ms() { awk -v hz="$hz" '{print ($14 + $15) * 1000 / hz}' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# measure DIR: "start_ms start_rss_kb scrape_us end_rss_kb" of serve following DIR.
measure() {
    "$SS" serve --listen 127.0.0.1:0 "$1" 2>"$OUT/serve.err" &
    pid=$!
    until grep -q "serving on" "$OUT/serve.err"; do sleep 0.05; done
    url=http://$(sed -n 's/.*serving on //p' "$OUT/serve.err")
    start_ms=$(cpu_ms "$pid")
    start_rss=$(rss_kb "$pid")
    python3 - "$url/metrics" "$SCRAPES" <<'PY'
import sys, urllib.request
for _ in range(int(sys.argv[2])):
    urllib.request.urlopen(sys.argv[1]).read()
PY
    end_ms=$(cpu_ms "$pid")
    end_rss=$(rss_kb "$pid")
    kill "$pid"
    wait "$pid" || true
    echo "$start_ms $start_rss $(((end_ms - start_ms) * 1000 / SCRAPES)) $end_rss"
}

mkdir -m 700 "$OUT/serve-empty"
"$SS" run -q -o "$OUT/serve-run" --threshold 5ms -- sh -c \
    'i=0; while [ $i -lt "$2" ]; do "$1" --spin 8 >/dev/null; i=$((i + 1)); done' sh "$FIXTURE" \
    "$PROCS"
# shellcheck disable=SC2046 # four numbers
set -- $(measure "$OUT/serve-empty")
e_start=$1 e_rss=$2 e_scrape=$3 e_end=$4
# shellcheck disable=SC2046 # four numbers
set -- $(measure "$OUT/serve-run")
printf '  %-22s %12s %12s %14s %14s\n' "" "start CPU ms" "start RSS KB" "us CPU/scrape" "RSS KB after"
printf '  %-22s %12s %12s %14s %14s\n' "empty directory" "$e_start" "$e_rss" "$e_scrape" "$e_end"
printf '  %-22s %12s %12s %14s %14s\n' "$PROCS processes" "$1" "$2" "$3" "$4"
printf '  %-22s %12s %12s %14s %14s\n' "per process" \
    "$(awk -v a="$1" -v b="$e_start" -v n="$PROCS" 'BEGIN {printf "%.2f", (a - b) / n}')" \
    "$(awk -v a="$2" -v b="$e_rss" -v n="$PROCS" 'BEGIN {printf "%.1f", (a - b) / n}')" \
    "$(awk -v a="$3" -v b="$e_scrape" -v n="$PROCS" 'BEGIN {printf "%.1f", (a - b) / n}')" \
    "$(awk -v a="$4" -v b="$e_end" -v n="$PROCS" 'BEGIN {printf "%.1f", (a - b) / n}')"
