#!/bin/sh
# Footprint: memory, threads, wake-ups and CPU that stallscope adds to an idle process (a
# one-thread epoll loop, and a Node.js HTTP server with no clients), and what its monitor, a
# process of its own, spends beside it. Run by scripts/bench, which sets SS, OUT, BIN, SETTLE
# (seconds before measuring) and WATCH (seconds watched); and SS_BEFORE to measure an earlier
# build beside this one ("before": its watchdog thread ran inside the host, and it had no
# monitor).
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
    before) "$SS_BEFORE" run -q -o "$OUT/fp-run" -- "$@" >/dev/null 2>&1 & ;;
    before-5ms) "$SS_BEFORE" run -q --threshold 5ms --interval 5ms -o "$OUT/fp-run" -- "$@" >/dev/null 2>&1 & ;;
    esac
    top=$!
    sleep "$SETTLE"
    # Under stallscope run the program is run's child; so is the monitor, which names itself
    # "stallscope monitor" on its command line.
    pid=$top mon=
    if [ "$variant" != plain ]; then
        mon=$(pgrep -P "$top" -f '^stallscope monitor ' || true)
        pid=$(pgrep -P "$top" | grep -vx "${mon:-0}" | head -1)
    fi
    rss=$(status_kb "$pid" VmRSS) vsz=$(status_kb "$pid" VmSize)
    threads=$(awk '$1 == "Threads:" {print $2}' "/proc/$pid/status")
    s0=$(switches "$pid") c0=$(cpu_ns "$pid")
    ms0=0 mc0=0 ms1=0 mc1=0 mrss=0
    [ -z "$mon" ] || { ms0=$(switches "$mon") mc0=$(cpu_ns "$mon"); }
    sleep "$WATCH"
    s1=$(switches "$pid") c1=$(cpu_ns "$pid")
    [ -z "$mon" ] || { ms1=$(switches "$mon") mc1=$(cpu_ns "$mon") mrss=$(status_kb "$mon" VmRSS); }
    kill -TERM "$top"
    wait "$top" 2>/dev/null || true
    awk -v n="$name" -v v="$variant" -v r="$rss" -v z="$vsz" -v t="$threads" -v s=$((s1 - s0)) \
        -v c=$((c1 - c0)) -v w="$WATCH" -v m="$mon" -v mr="$mrss" -v ms=$((ms1 - ms0)) \
        -v mc=$((mc1 - mc0)) 'BEGIN {
        printf "  %-11s %-15s %9.1f %10.1f %8d %11.1f %9.3f", n, v, r / 1024, z / 1024, t, s / w, 100 * c / 1e9 / w
        if (m != "") printf " %10.1f %11.1f %9.3f\n", mr / 1024, ms / w, 100 * mc / 1e9 / w
        else printf " %10s %11s %9s\n", "-", "-", "-" }'
}

echo "  the program (host) and, beside it, the monitor; \"before\": the earlier build, whose"
echo "  watchdog thread ran inside the host"
printf '  %-11s %-15s %9s %10s %8s %11s %9s %10s %11s %9s\n' program variant "RSS MB" "virt MB" \
    threads "wakeups/s" "CPU %" "mon RSS MB" "mon wake/s" "mon CPU %"
before=${SS_BEFORE:+before}
for v in plain stallscope stallscope-5ms ${before:+before before-5ms}; do
    measure idle-loop "$v" "$BIN/idle-loop"
done
for v in plain stallscope $before; do
    measure node-idle "$v" node -e "require('http').createServer().listen(0, '127.0.0.1')"
done
