#!/bin/sh
# Shim footprint: memory, threads, wake-ups and CPU that the shim adds to an idle process:
# a one-thread epoll loop, and a Node.js HTTP server with no clients. Run by scripts/bench,
# which sets SS, OUT, BIN and SETTLE (seconds before measuring) and WATCH (seconds watched).
set -eu

status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }

# Context switches of every thread of PID, and their CPU time in ns (schedstat: clock ticks
# are too coarse for the fraction of a percent an idle process spends).
switches() { cat /proc/"$1"/task/*/status | awk '/ctxt_switches/ {s += $2} END {print s}'; }
cpu_ns() { cat /proc/"$1"/task/*/schedstat | awk '{s += $1} END {printf "%d", s}'; }

measure() { # NAME VARIANT COMMAND...
    name=$1 variant=$2
    shift 2
    case $variant in
    plain) "$@" >/dev/null 2>&1 & ;;
    stallscope) "$SS" run -q -o "$OUT/fp-run" -- "$@" >/dev/null 2>&1 & ;;
    stallscope-5ms) "$SS" run -q --threshold 5ms --interval 5ms -o "$OUT/fp-run" -- "$@" >/dev/null 2>&1 & ;;
    esac
    top=$!
    sleep "$SETTLE"
    # Under stallscope run the program is run's child.
    pid=$top
    [ "$variant" = plain ] || pid=$(pgrep -P "$top")
    rss=$(status_kb "$pid" VmRSS) vsz=$(status_kb "$pid" VmSize)
    threads=$(awk '$1 == "Threads:" {print $2}' "/proc/$pid/status")
    s0=$(switches "$pid") c0=$(cpu_ns "$pid")
    sleep "$WATCH"
    s1=$(switches "$pid") c1=$(cpu_ns "$pid")
    kill -TERM "$top"
    wait "$top" 2>/dev/null || true
    awk -v n="$name" -v v="$variant" -v r="$rss" -v z="$vsz" -v t="$threads" -v s=$((s1 - s0)) \
        -v c=$((c1 - c0)) -v w="$WATCH" 'BEGIN {
        printf "  %-11s %-15s %9.1f %10.1f %8d %11.1f %9.3f\n", n, v, r / 1024, z / 1024, t, s / w, 100 * c / 1e9 / w }'
}

printf '  %-11s %-15s %9s %10s %8s %11s %9s\n' program variant "RSS MB" "virt MB" threads "wakeups/s" "CPU %"
for v in plain stallscope stallscope-5ms; do
    measure idle-loop "$v" "$BIN/idle-loop"
done
for v in plain stallscope; do
    measure node-idle "$v" node -e "require('http').createServer().listen(0, '127.0.0.1')"
done
