#!/bin/bash
# Servers under load on loopback: each server plain, under `stallscope run` with the default
# settings, with a 5 ms threshold, and under `strace -f` (and Node.js's own --trace-sync-io),
# interleaved run by run so that a change in the machine's load hits every variant alike.
# Run by scripts/bench, which sets SS (the stallscope command), OUT (a scratch directory),
# DURATION (seconds per measurement), WARMUP (seconds), REPS and SERVERS; and SS_BEFORE and
# SHIM_BEFORE to run an earlier build beside this one (the "before" variant, default
# settings), CG_REPS and CG_CONNS for the instruction counts (default 1 and 1).
#
# The server (and whatever wraps it: stallscope and its monitor, strace) runs on CPU 0 and the
# load generator on CPU 1, so that the two never trade places and the monitor, which `run`
# starts with the server's CPU affinity, has to share the server's core, as it would on a busy
# machine.
#
# Requests per second on a shared 2-CPU machine move with whatever else runs on it. CPU time
# per request does much less: each run also sums the CPU time of every thread of the server's
# process group (server, wrapper, strace) and of the monitor, which runs in a process group of
# its own, over the measured load, and divides it by the requests served. The monitor's share
# is reported on its own (monitor_us/req); for the earlier build, whose watchdog thread ran
# inside the server, the same column is that thread's CPU (watchdog_us/req).
#
# Instructions per request do not move with the load at all: the single-threaded servers
# (Python asyncio, nginx) are also run under callgrind, plain, with this shim and with the
# earlier one, and their user-space instructions over a measured load are divided by the
# requests served.
set -u
here=$(cd "$(dirname "$0")" && pwd)
port=$((20000 + $$ % 5000 * 4))
conns=50

# The server running now, stopped whatever way this script ends.
current=
stop_current() {
    [ -n "$current" ] || return 0
    kill -TERM -- -"$current" 2>/dev/null
    wait "$current" 2>/dev/null
    current=
}
trap stop_current EXIT
trap 'echo "servers.sh: interrupted" >&2; exit 1' HUP INT TERM

# A line of results per run:
# server variant repetition rps p99_ms cpu_us_per_request own_us_per_request extra
results=$OUT/servers.tsv
: >"$results"

wait_port() { # PORT [TRIES]: 0 once something listens on it
    for _ in $(seq "${2:-100}"); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

# shellcheck source=nginx.sh
. "$here/nginx.sh"

server_cmd() { # SERVER PORT DIR [MASTER]: the plain command line of a server
    case $1 in
    node) echo "node $here/servers/http.js $2" ;;
    python) echo "${PYTHON:-python3} $here/servers/asyncio_http.py $2" ;;
    nginx) nginx_conf "$3" "$2" "${4:-on}"; echo "nginx -p $3 -e $3/error.log -c $3/nginx.conf" ;;
    redis) echo "redis-server --port $2 --bind 127.0.0.1 --save '' --appendonly no --logfile ''" ;;
    esac
}

# baseline-again is the baseline once more: how far two identical runs differ is the noise
# floor that every other ratio has to be read against.
variants_of() {
    local before=${SS_BEFORE:+before}
    case $1 in
    node) echo "baseline stallscope stallscope-5ms $before strace trace-sync-io baseline-again" ;;
    *) echo "baseline stallscope stallscope-5ms $before strace baseline-again" ;;
    esac
}

wrap() { # VARIANT RUNDIR: what goes before the server's command line
    case $1 in
    baseline*) ;;
    stallscope) echo "$SS run -q -o $2 --" ;;
    stallscope-5ms) echo "$SS run -q --threshold 5ms --interval 5ms -o $2 --" ;;
    before) echo "$SS_BEFORE run -q -o $2 --" ;;
    strace) echo "strace -f -o /dev/null" ;;
    esac
}

ms() { # a wrk duration (12.3us, 4.5ms, 1.2s) in ms
    awk -v d="$1" 'BEGIN {
        v = d + 0; u = d; sub(/^[0-9.]+/, "", u)
        printf "%.3f", u == "us" ? v / 1000 : u == "s" ? v * 1000 : u == "m" ? v * 60000 : v }'
}

load_http() { # PORT SECONDS [latency]: "rps p99_ms requests"
    taskset -c 1 wrk -t1 -c$conns -d"$2"s ${3:+--latency} "http://127.0.0.1:$1/" >"$OUT/wrk.out" 2>&1
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$OUT/wrk.out")
    p99=$(awk '$1 == "99%" {print $2}' "$OUT/wrk.out")
    n=$(awk '/ requests in / {print $1}' "$OUT/wrk.out")
    echo "${rps:-0} $(ms "${p99:-0}") ${n:-0}"
}

load_redis() { # PORT REQUESTS [TESTS]: "rps p99_ms requests" of GET
    taskset -c 1 redis-benchmark -p "$1" -c $conns -n "$2" -t "${3:-get}" --csv >"$OUT/redis.out" 2>&1
    awk -F'","' -v n="$2" '$1 == "\"GET" {print $2, $7, n}' "$OUT/redis.out"
}

cpu_ns() { # PGID: CPU time of the group's threads, in ns
    for p in $(pgrep -g "$1"); do
        cat /proc/"$p"/task/*/schedstat 2>/dev/null
    done | awk '{s += $1} END {printf "%d", s}'
}

pid_cpu_ns() { # PID: CPU time of the process's threads, in ns (0 without a process)
    { [ -z "$1" ] || cat /proc/"$1"/task/*/schedstat 2>/dev/null; } |
        awk '{s += $1} END {printf "%d", s}'
}

watchdog_ns() { # PGID: CPU time of the earlier build's watchdog, the thread named stallscope
    for p in $(pgrep -g "$1"); do
        for t in /proc/"$p"/task/*; do
            # Not a main thread: `stallscope run` itself has that name too.
            [ "${t##*/}" != "$p" ] && [ "$(cat "$t/comm" 2>/dev/null)" = stallscope ] || continue
            cat "$t/schedstat" 2>/dev/null
        done
    done | awk '{s += $1} END {printf "%d", s}'
}

own_ns() { # monitor|watchdog|- PGID MONITOR-PID: stallscope's own CPU time, in ns
    case $1 in
    monitor) pid_cpu_ns "$3" ;;
    watchdog) watchdog_ns "$2" ;;
    *) echo 0 ;;
    esac
}

# The monitor that `stallscope run` (led by PID) started: its child, in a process group of its
# own, named "stallscope monitor" on its command line.
monitor_of() { pgrep -P "$1" -f '^stallscope monitor ' | head -1; }

run_one() { # SERVER VARIANT
    local server=$1 variant=$2 dir=$OUT/srv-$1 run=$OUT/srv-$1/run
    rm -rf "$dir"
    mkdir -p "$dir"
    local cmd
    cmd="$(wrap "$variant" "$run") $(server_cmd "$server" "$port" "$dir")"
    [ "$variant" = trace-sync-io ] && cmd="node --trace-sync-io $here/servers/http.js $port"
    # A process group of its own, led by $!: stopping the group stops the server whatever
    # wraps it (strace would detach and leave it running).
    eval "exec setsid taskset -c 0 $cmd" >"$dir/stdout" 2>"$dir/stderr" &
    local pid=$!
    current=$pid
    if ! wait_port "$port"; then
        echo "$server $variant: did not start: $(head -c 300 "$dir/stderr")" >&2
        stop_current
        return
    fi
    # stallscope's own CPU time, outside the server's threads: the monitor's (a process of
    # its own, `run`'s child) or, for the earlier build, its watchdog thread's.
    local mon='' own=-
    case $variant in
    stallscope*) mon=$(monitor_of "$pid") own=monitor ;;
    before) own=watchdog ;;
    esac
    if [ "$own" = monitor ] && [ -z "$mon" ]; then
        echo "$server $variant: no monitor found beside the server" >&2
        stop_current
        return
    fi
    local r
    local c0 c1 m0 m1 w0 w1
    if [ "$server" = redis ]; then
        # redis-benchmark counts requests, not seconds: size the run from a first estimate,
        # which also stores the key the GETs read.
        r=$(load_redis "$port" 20000 set,get)
        local n
        n=$(awk -v r="${r%% *}" -v d="$DURATION" 'BEGIN {printf "%d", r * d + 1000}')
        c0=$(cpu_ns "$pid") m0=$(pid_cpu_ns "$mon") w0=$(own_ns "$own" "$pid" "$mon")
        r=$(load_redis "$port" "$n")
    else
        load_http "$port" "$WARMUP" >/dev/null
        c0=$(cpu_ns "$pid") m0=$(pid_cpu_ns "$mon") w0=$(own_ns "$own" "$pid" "$mon")
        r=$(load_http "$port" "$DURATION" latency)
    fi
    c1=$(cpu_ns "$pid") m1=$(pid_cpu_ns "$mon") w1=$(own_ns "$own" "$pid" "$mon")
    set -- $r
    local rps=$1 p99=$2 n=$3 cpu own_us=-
    # All of it: the server's process group and the monitor.
    cpu=$(awk -v c=$((c1 - c0 + m1 - m0)) -v n="$n" 'BEGIN {printf "%.2f", n ? c / 1000 / n : 0}')
    [ "$own" = - ] ||
        own_us=$(awk -v w=$((w1 - w0)) -v n="$n" 'BEGIN {printf "%.3f", n ? w / 1000 / n : 0}')
    stop_current
    # Proof that the shim was really there, and what it saw under load.
    local extra=-
    case $variant in
    stallscope* | before)
        local traces ss=$SS
        [ "$variant" = before ] && ss=$SS_BEFORE
        traces=$(find "$run" -name 'stallscope-*.trace' 2>/dev/null | wc -l)
        # stallscope's own CPU time per request, and the stalls and blocking calls recorded.
        extra="traces=$traces,${own}_us/req=$own_us,$("$ss" export --format json "$run" \
            2>/dev/null | jq -r '"stalls=\([.processes[].stalls | length] | add // 0),calls=\(
            [.processes[].calls[].count] | add // 0)"')"
        [ "$traces" -gt 0 ] || extra="NOT-TRACED"
        ;;
    esac
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$server" "$variant" "$rep" "$rps" "$p99" "$cpu" \
        "$own_us" "$extra" >>"$results"
    printf '  %-7s %-17s %10s req/s  p99 %8s ms  %7s us CPU/req  %s\n' "$server" "$variant" "$rps" \
        "$p99" "$cpu" "$extra"
}

# System calls per request of the plain server at full speed, counted by the kernel's
# tracepoints (perf stat): what the shim's per-call costs of the hot-path table multiply with.
# A run of its own, so that counting costs nothing to the runs compared above.
count_calls() { # SERVER
    local server=$1 dir=$OUT/srv-$1
    rm -rf "$dir"
    mkdir -p "$dir"
    eval "exec setsid taskset -c 0 $(server_cmd "$server" "$port" "$dir")" >/dev/null 2>&1 &
    local pid=$!
    current=$pid
    wait_port "$port" || { stop_current; return; }
    local ev=
    for e in epoll_wait epoll_pwait read readv recvfrom recvmsg write writev sendto sendmsg \
        sendfile64; do
        ev="$ev${ev:+,}syscalls:sys_enter_$e"
    done
    local r
    if [ "$server" = redis ]; then
        load_redis "$port" 20000 set,get >/dev/null
    else
        load_http "$port" "$WARMUP" >/dev/null
    fi
    perf stat -x, -o "$dir/perf" -e "$ev,raw_syscalls:sys_enter" -p "$(pgrep -g "$pid" | paste -sd,)" &
    local perf=$!
    sleep 0.2
    if [ "$server" = redis ]; then
        r=$(load_redis "$port" 100000)
    else
        r=$(load_http "$port" "$DURATION")
    fi
    kill -INT "$perf"
    wait "$perf" 2>/dev/null
    stop_current
    set -- $r
    awk -F, -v s="$server" -v n="$3" '
        $3 ~ /epoll/ { w += $1 } $3 ~ /_(read|readv|recvfrom|recvmsg)$/ { r += $1 }
        $3 ~ /_(write|writev|sendto|sendmsg)$/ { o += $1 } $3 ~ /sendfile/ { f += $1 }
        $3 ~ /raw_syscalls/ { a += $1 }
        END { printf "  %-7s %8.2f %8.2f %8.2f %9.2f %8.2f\n", s, w / n, r / n, o / n, f / n, a / n }
    ' "$dir/perf"
}

for rep in $(seq "$REPS"); do
    echo "  -- repetition $rep/$REPS, load: $(uptime | sed 's/.*load average: //')"
    for server in $SERVERS; do
        variants=$(variants_of "$server")
        # Rotate the order each repetition: no variant always runs first or last.
        set -- $variants
        for _ in $(seq $(((rep - 1) % $#))); do
            first=$1
            shift
            set -- "$@" "$first"
        done
        for variant in "$@"; do
            run_one "$server" "$variant"
        done
    done
done

# Medians per server and variant, and the ratio of each to its server's baseline.
echo
echo "  medians of $REPS runs; ratio: median over the repetitions of the run's figure divided"
echo "  by its repetition's baseline; spread: (max - min) / median of the runs' req/s; CPU: the"
echo "  server's process group and the monitor; monitor: its part of that, median (largest); for"
echo "  \"before\", the earlier build's watchdog thread inside the server"
printf '  %-7s %-17s %10s %7s %7s %9s %7s %12s %7s %15s\n' server variant "req/s" spread ratio \
    "p99 ms" ratio "CPU us/req" ratio "monitor us/req"
awk -F'\t' "$STATS_AWK"'
    { key = $1 "\t" $2; if (!(key in rps)) order[++k] = key
      r = $3; if (r > reps) reps = r; v_rps[key, r] = $4; v_p99[key, r] = $5; v_cpu[key, r] = $6
      rps[key] = rps[key] " " $4; p99[key] = p99[key] " " $5; cpu[key] = cpu[key] " " $6
      if ($7 != "-") { own[key] = own[key] " " $7; if ($7 > top[key]) top[key] = $7 } }
    END {
        for (i = 1; i <= k; i++) {
            o = order[i]; split(o, f, "\t"); b = f[1] "\tbaseline"
            qr = qp = qc = ""
            for (r = 1; r <= reps; r++) {
                if (!((o, r) in v_rps) || !((b, r) in v_rps)) continue
                if (v_rps[b, r]) qr = qr " " v_rps[o, r] / v_rps[b, r]
                if (v_p99[b, r]) qp = qp " " v_p99[o, r] / v_p99[b, r]
                if (v_cpu[b, r]) qc = qc " " v_cpu[o, r] / v_cpu[b, r]
            }
            printf "  %-7s %-17s %10.0f %6.0f%% %7.3f %9.2f %7.2f %12.2f %7.3f %15s\n", f[1], f[2],
                median(rps[o]), 100 * spread(rps[o]), median(qr), median(p99[o]), median(qp),
                median(cpu[o]), median(qc),
                o in own ? sprintf("%.3f (%.3f)", median(own[o]), top[o]) : ""
        }
    }' "$results" | sort -s -k1,1

# User-space instructions per request of a single-threaded server under callgrind: the same
# whatever else runs on the machine. nginx runs without its master process, so that the one
# process under callgrind is the one serving. The counters are zeroed after a warm-up and
# dumped after the load (callgrind_control), so start-up is not counted. The load is one
# connection (CG_CONNS), which makes the count repeatable to about 1%.
instructions() { # SERVER VARIANT: "loop-thread all-threads requests", one line in cg.tsv
    local server=$1 variant=$2 dir=$OUT/cg-$1 preload=''
    # One connection: every request is an iteration of its own (a wait, a read, a write), so
    # the count does not depend on how many requests each wait happened to return. That is
    # the most waits per request a server makes: the shim's per-wait cost counts in full.
    local conns=${CG_CONNS:-1}
    rm -rf "$dir"
    mkdir -p "$dir"
    case $variant in
    stallscope) preload=$SHIM ;;
    before) preload=$SHIM_BEFORE ;;
    esac
    # valgrind passes LD_PRELOAD on to the program. With no monitor named in the options the
    # shim starts one beside the server, as under a plain LD_PRELOAD; the earlier shim starts
    # its watchdog thread. Default settings either way.
    eval "exec setsid taskset -c 0 env ${preload:+LD_PRELOAD=$preload STALLSCOPE_OPTIONS=output=$dir/run} \
        valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file=$dir/cg.%p \
        $(server_cmd "$server" "$port" "$dir" off)" >"$dir/stdout" 2>"$dir/stderr" &
    local pid=$!
    current=$pid
    if ! wait_port "$port" 600; then
        echo "$server $variant under callgrind: did not start: $(tail -c 300 "$dir/stderr")" >&2
        stop_current
        return
    fi
    load_http "$port" "$WARMUP" >/dev/null
    callgrind_control -z "$pid" >/dev/null 2>&1
    local r
    # At least 5 s: the interpreter's per-request count settles over a few thousand requests.
    r=$(load_http "$port" $((DURATION > 5 ? DURATION : 5)))
    callgrind_control -d "$pid" >/dev/null 2>&1
    local traced=1
    [ -z "$preload" ] || [ -n "$(find "$dir/run" -name 'stallscope-*.trace' 2>/dev/null)" ] ||
        traced=0
    stop_current
    if [ $traced = 0 ]; then
        echo "$server $variant under callgrind: NOT-TRACED" >&2
        return
    fi
    set -- $r
    # The dump's files: cg.PID.1-01 for the main thread (the loop), one more per thread.
    awk -v s="$server" -v v="$variant" -v n="$3" -v rep="$rep" '
        /^summary:/ { all += $2; if (FILENAME ~ /-01$/) loop += $2 }
        END { if (n) printf "%s\t%s\t%s\t%.0f\t%.0f\t%d\n", s, v, rep, loop / n, all / n, n }
    ' "$dir/cg.$pid".1-* >>"$OUT/cg.tsv"
    tail -1 "$OUT/cg.tsv" | awk -F'\t' '{printf "  %-7s %-11s %10s loop %10s all threads  (%d requests)\n", $1, $2, $4, $5, $6}'
}

cg_servers=
for server in $SERVERS; do
    case $server in python | nginx) cg_servers="$cg_servers $server" ;; esac
done
if [ -n "$cg_servers" ] && command -v valgrind >/dev/null 2>&1; then
    echo
    echo "  user-space instructions per request under callgrind, single-threaded servers"
    : >"$OUT/cg.tsv"
    for rep in $(seq "${CG_REPS:-1}"); do
        for server in $cg_servers; do
            for variant in baseline stallscope ${SS_BEFORE:+before}; do
                instructions "$server" "$variant"
            done
        done
    done
    echo
    echo "  median of ${CG_REPS:-1} runs; loop: the serving thread; all: every thread of the server"
    echo "  (the earlier build's watchdog included; the monitor is a process of its own)"
    printf '  %-7s %-11s %12s %9s %12s %9s\n' server variant "loop instr" "vs plain" "all instr" "vs plain"
    awk -F'\t' '
        function median(list,   n, a, i, j, x) {
            n = split(list, a, " ")
            for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
            return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
        }
        { key = $1 "\t" $2; if (!(key in loop)) order[++k] = key
          loop[key] = loop[key] " " $4; all[key] = all[key] " " $5 }
        END {
            for (i = 1; i <= k; i++) {
                split(order[i], f, "\t"); b = f[1] "\tbaseline"
                l = median(loop[order[i]]); a = median(all[order[i]])
                lb = median(loop[b]); ab = median(all[b])
                printf "  %-7s %-11s %12.0f %+8.1f%% %12.0f %+8.1f%%\n", f[1], f[2], l,
                    lb ? 100 * (l - lb) / lb : 0, a, ab ? 100 * (a - ab) / ab : 0
            }
        }' "$OUT/cg.tsv"
fi

if command -v perf >/dev/null 2>&1; then
    echo
    echo "  system calls per request of the plain servers (perf stat, tracepoints)"
    printf '  %-7s %8s %8s %8s %9s %8s\n' server waits reads writes sendfile all
    for server in $SERVERS; do
        count_calls "$server"
    done
fi
