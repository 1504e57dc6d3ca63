#!/bin/sh
# Analysis speed and memory: report (with the default --keep-stalls and with every stall kept)
# and every export format on synthetic runs of growing size, written by bench/gen-trace with
# the monitor's trace writer. Time and peak RSS come from GNU time. Run by scripts/bench, which
# sets SS, OUT, BIN and SIZES.
set -eu
# The formats this stallscope knows, from its own usage text: "one of: json, ...".
formats=$("$SS" export --help | sed -n 's/.*one of: //p' | tr -d ',')

printf '  %9s %9s %-14s %9s %11s %10s %11s\n' stalls "trace MB" command seconds "us/stall" "peak MB" "KB/stall"
for n in $SIZES; do
    run=$OUT/synthetic-$n
    rm -rf "$run"
    "$BIN/gen-trace" "$run" "$n"
    bytes=$(cat "$run"/*.trace | wc -c)
    # "report-all" keeps every stall in detail (--keep-stalls 0), the others the default 20000
    # longest per process: their peak RSS side by side is what the bound saves.
    for cmd in report report-all $formats; do
        case $cmd in
        report) set -- report "$run" ;;
        report-all) set -- report --keep-stalls 0 "$run" ;;
        *) set -- export --format "$cmd" -o /dev/null "$run" ;;
        esac
        /usr/bin/time -f '%e %M' -o "$OUT/time.out" "$SS" "$@" >/dev/null
        read -r secs kb <"$OUT/time.out"
        awk -v n="$n" -v b="$bytes" -v c="$cmd" -v s="$secs" -v kb="$kb" 'BEGIN {
            printf "  %9d %9.1f %-14s %9.2f %11.2f %10.1f %11.2f\n", n, b / 1e6, c, s, s * 1e6 / n, kb / 1024, kb / n }'
    done
    rm -rf "$run"
done

# Symbolization alone, a million distinct addresses looked up one by one (bench/symbolize.c).
echo "  symbolization:"
"$BIN/symbolize" 1000000
