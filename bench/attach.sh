#!/bin/bash
# stallscope attach: how long the attached process is stopped, and what a server serves while
# attached. Run by scripts/bench, which sets SS (the stallscope command), OUT (a scratch
# directory), BIN (the bench helpers, attach-target among them), REPS, DURATION (seconds per
# load measurement) and WARMUP (seconds).
#
# 1. Stop times. bench/attach-target, started afresh for every attach (each attach is then a
#    first one, which loads the shim), in two sizes: 50 threads (24 waiting on a condition
#    variable, 25 sleeping in nanosleep loops, the main one in its epoll loop) with 200 small
#    libraries dlopen()ed, and the baseline, one thread and no library of its own. Each is
#    attached with --duration 1s, REPS times, interleaved; attach's two lines on stderr give
#    how long the chosen thread was held at attach and at detach ("process stopped"), how long
#    every thread was stopped at once, and the calls redirected and put back.
#
# 2. Throughput. nginx (one worker, master process on, a 1 KiB page) under wrk, as in
#    bench/servers.sh: plain, attached (attach to its worker after the warm-up, ended with ^C
#    after the measurement; its --duration covers both) and under `stallscope run`, REPS
#    rounds, the order rotated each round. The server, attach and their monitor run on CPU 0,
#    wrk on CPU 1. The attached rounds also give the worker's stop times. Skipped when nginx
#    or wrk is absent.
set -u
port=$((25000 + $$ % 5000 * 2))
conns=50
mods=$OUT/attach-mods
nmods=200

# What runs now, stopped whatever way this script ends.
target='' server='' attacher=''
stop_all() {
    [ -z "$attacher" ] || { kill -INT "$attacher" 2>/dev/null; wait "$attacher" 2>/dev/null; }
    [ -z "$target" ] || { kill -KILL "$target" 2>/dev/null; wait "$target" 2>/dev/null; }
    [ -z "$server" ] || { kill -TERM -- -"$server" 2>/dev/null; wait "$server" 2>/dev/null; }
    attacher='' target='' server=''
}
trap stop_all EXIT
trap 'echo "attach.sh: interrupted" >&2; exit 1' HUP INT TERM

median_max() { # NUMBERS...: "median max" (the mean of the two middle ones for an even count)
    printf '%s\n' "$@" | sort -g | awk '{a[NR] = $1} END {
        if (!NR) { print "- -"; exit }
        m = NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
        printf "%.2f %.2f\n", m, a[NR] }'
}

# attach's two lines: "calls held_ms all_ms" of the attach, "calls held_ms" of the detach.
attach_figures() { # FILE
    sed -n 's/.*attached to process [0-9]*: \([0-9]*\) calls redirected (process stopped \([0-9.]*\)ms, threads all stopped \([0-9.]*\)ms).*/\1 \2 \3/p' "$1"
}
detach_figures() { # FILE
    sed -n 's/.*detached from process [0-9]*: \([0-9]*\) calls put back (process stopped \([0-9.]*\)ms).*/\1 \2/p' "$1"
}

# ---- 1. stop times -------------------------------------------------------------------------

# The 200 libraries: one function each, calling write, read and usleep through the PLT.
mkdir -p "$mods"
for i in $(seq 0 $((nmods - 1))); do
    n=$(printf '%03d' "$i")
    cat >"$mods/mod-$n.c" <<EOF
#include <unistd.h>
int attach_mod_$n(int fd)
{
    char c;
    if (write(fd, &c, 0) < 0 && read(fd, &c, 0) < 0)
        return usleep(0);
    return 0;
}
EOF
done
# shellcheck disable=SC2016 # the inner shell expands them
printf '%s\n' "$mods"/mod-*.c | xargs -P "$(nproc)" -n 20 sh -c '
    for c do
        n=${c##*/mod-}
        ${CC:-cc} -O2 -shared -fPIC -o "${c%/*}/libattach-mod-${n%.c}.so" "$c" || exit 255
    done' sh || { echo "attach.sh: the libraries did not build" >&2; exit 1; }

stops=$OUT/attach-stops.tsv
: >"$stops"
sizes="large minimal"
for rep in $(seq "$REPS"); do
    # Rotated each repetition: neither size always goes first.
    [ $((rep % 2)) = 0 ] && sizes="minimal large" || sizes="large minimal"
    for size in $sizes; do
        case $size in
        large) "$BIN/attach-target" 50 "$mods" "$nmods" >"$OUT/target.out" 2>&1 & ;;
        minimal) "$BIN/attach-target" 1 "$mods" 0 >"$OUT/target.out" 2>&1 & ;;
        esac
        target=$!
        for _ in $(seq 200); do
            grep -q '^ready' "$OUT/target.out" && break
            sleep 0.02
        done
        if ! grep -q '^ready' "$OUT/target.out"; then
            echo "  $size: the target did not start: $(head -c 300 "$OUT/target.out")" >&2
            stop_all
            continue
        fi
        threads=$(awk '$1 == "Threads:" {print $2}' "/proc/$target/status")
        # Every file mapped: the program, the C library and the loader, the libraries.
        modules=$(awk '$6 ~ /^\// {print $6}' "/proc/$target/maps" | sort -u | wc -l)
        rm -rf "$OUT/attach-run"
        "$SS" attach -o "$OUT/attach-run" --duration 1s "$target" >/dev/null 2>"$OUT/attach.err"
        status=$?
        a=$(attach_figures "$OUT/attach.err") d=$(detach_figures "$OUT/attach.err")
        alive=$(kill -0 "$target" 2>/dev/null && echo yes || echo no)
        stop_all
        if [ "$status" != 0 ] || [ -z "$a" ] || [ -z "$d" ] || [ "$alive" != yes ]; then
            echo "  $size: attach exited with $status, target alive: $alive: $(head -c 400 "$OUT/attach.err")" >&2
            continue
        fi
        # shellcheck disable=SC2086 # the figures, one word each
        set -- $a $d
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$size" "$rep" "$threads" "$modules" "$1" \
            "$2" "$3" "$4" "$5" >>"$stops"
        printf '  %-8s %3s threads %4s files  %5s calls redirected  stopped %6s ms  all %6s ms  detach: %5s put back, stopped %6s ms\n' \
            "$size" "$threads" "$modules" "$1" "$2" "$3" "$4" "$5"
    done
done

echo
echo "  stop times of $REPS attaches each (--duration 1s, a fresh process each time), in ms:"
echo "  held: the chosen thread, which makes the calls; all: every thread at once"
printf '  %-8s %7s %6s %9s %17s %17s %17s %9s\n' process threads files redirected \
    "attach held" "all stopped" "detach held" "put back"
printf '  %-8s %7s %6s %9s %17s %17s %17s %9s\n' "" "" "" "" "median     max" \
    "median     max" "median     max" ""
for size in minimal large; do
    rows=$(awk -F'\t' -v s="$size" '$1 == s' "$stops")
    [ -n "$rows" ] || { echo "  $size: no attach measured"; continue; }
    col() { echo "$rows" | cut -f"$1"; }
    # shellcheck disable=SC2046,SC2086 # lists of numbers, one word each
    {
        held=$(median_max $(col 6)) all=$(median_max $(col 7)) det=$(median_max $(col 9))
        calls=$(median_max $(col 5)) back=$(median_max $(col 8))
        printf '  %-8s %7s %6s %9.0f %8s %8s %8s %8s %8s %8s %9.0f\n' "$size" \
            "$(col 3 | head -1)" "$(col 4 | head -1)" "${calls% *}" $held $all $det "${back% *}"
    }
done

# ---- 2. nginx while attached ---------------------------------------------------------------

if ! command -v nginx >/dev/null 2>&1 || ! command -v wrk >/dev/null 2>&1; then
    echo
    echo "  no nginx or no wrk: the throughput while attached is skipped"
    exit 0
fi

wait_port() { # PORT: 0 once something listens on it
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

# shellcheck source=nginx.sh
. "$(dirname "$0")/nginx.sh"

load_http() { # SECONDS: "rps requests errors"
    taskset -c 1 wrk -t1 -c$conns -d"$1"s "http://127.0.0.1:$port/" >"$OUT/wrk.out" 2>&1
    awk '/^Requests\/sec:/ {r = $2} / requests in / {n = $1}
        /Socket errors|Non-2xx/ {e = 1} END {print r + 0, n + 0, e + 0}' "$OUT/wrk.out"
}

loads=$OUT/attach-nginx.tsv
: >"$loads"
run_one() { # VARIANT
    local variant=$1 dir=$OUT/attach-nginx run=$OUT/attach-nginx/run wrap=
    rm -rf "$dir"
    mkdir -p "$dir"
    nginx_conf "$dir" "$port"
    [ "$variant" = run ] && wrap="$SS run -q -o $run --"
    # A process group of its own, led by $!: stopping the group stops nginx (and run).
    # shellcheck disable=SC2086
    setsid taskset -c 0 $wrap nginx -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" \
        >"$dir/stdout" 2>"$dir/stderr" &
    server=$!
    if ! wait_port "$port"; then
        echo "  nginx $variant: did not start: $(head -c 300 "$dir/stderr" "$dir/error.log")" >&2
        stop_all
        return
    fi
    load_http "$WARMUP" >/dev/null
    local info='' stops='- - - -'
    if [ "$variant" = attached ]; then
        local worker
        worker=$(pgrep -P "$server" | head -1)
        taskset -c 0 "$SS" attach -o "$run" --duration $((DURATION + 30))s "$worker" \
            >/dev/null 2>"$dir/attach.err" &
        attacher=$!
        for _ in $(seq 200); do
            grep -q 'attached to process' "$dir/attach.err" && break
            kill -0 "$attacher" 2>/dev/null || break
            sleep 0.02
        done
        if ! grep -q 'attached to process' "$dir/attach.err"; then
            echo "  nginx attached: attach did not attach: $(head -c 400 "$dir/attach.err")" >&2
            stop_all
            return
        fi
    fi
    local r
    r=$(load_http "$DURATION")
    if [ "$variant" = attached ]; then
        kill -INT "$attacher"
        wait "$attacher"
        local status=$?
        attacher=
        local a d
        a=$(attach_figures "$dir/attach.err") d=$(detach_figures "$dir/attach.err")
        [ "$status" = 0 ] && [ -n "$d" ] ||
            echo "  nginx attached: attach exited with $status: $(head -c 400 "$dir/attach.err")" >&2
        # shellcheck disable=SC2086 # the figures, one word each
        set -- $a ${d:-- -}
        info="redirected=$1,held=$2ms,all=$3ms,detach_held=$5ms"
        stops="$1 $2 $3 $5"
    fi
    stop_all
    # Proof that the shim was really there.
    local extra=- traces
    if [ "$variant" != plain ]; then
        traces=$(find "$run" -name 'stallscope-*.trace' 2>/dev/null | wc -l)
        if [ "$traces" -gt 0 ]; then extra="traces=$traces${info:+,$info}"; else extra=NOT-TRACED; fi
    fi
    # shellcheck disable=SC2086 # the figures, one word each
    set -- $r
    [ "$3" = 0 ] || extra="$extra,WRK-ERRORS"
    printf '%s\t%s\t%s\t%s\t%s\n' "$variant" "$rep" "$1" "$extra" "$stops" >>"$loads"
    printf '  nginx %-9s %10s req/s  %s\n' "$variant" "$1" "$extra"
}

echo
for rep in $(seq "$REPS"); do
    echo "  -- round $rep/$REPS, load: $(uptime | sed 's/.*load average: //')"
    set -- plain attached run
    for _ in $(seq $(((rep - 1) % 3))); do
        first=$1
        shift
        set -- "$@" "$first"
    done
    for variant in "$@"; do
        run_one "$variant"
    done
done

echo
echo "  nginx, $REPS rounds of ${DURATION}s each: median req/s; spread: (max - min) / median;"
echo "  ratio: median over the rounds of the run's req/s divided by its round's plain run"
printf '  %-9s %10s %7s %7s\n' variant "req/s" spread ratio
awk -F'\t' "$STATS_AWK"'
    $4 !~ /NOT-TRACED|WRK-ERRORS/ { rps[$1] = rps[$1] " " $3; by[$1, $2] = $3; if ($2 > reps) reps = $2 }
    END {
        split("plain attached run", order, " ")
        for (i = 1; i <= 3; i++) {
            v = order[i]
            if (!(v in rps)) { printf "  %-9s no run measured\n", v; continue }
            q = ""
            for (r = 1; r <= reps; r++)
                if ((v, r) in by && ("plain", r) in by && by["plain", r]) q = q " " by[v, r] / by["plain", r]
            printf "  %-9s %10.0f %6.0f%% %7s\n", v, median(rps[v]), 100 * spread(rps[v]),
                q == "" ? "-" : sprintf("%.3f", median(q))
        }
    }' "$loads"
# The worker's stop times, from the attached rounds.
figure() { # N: the Nth of calls, held, all, detach held of the attached rounds, one a line
    awk -F'\t' -v n="$1" '$1 == "attached" {split($5, f, " "); if (f[n] != "-") print f[n]}' "$loads"
}
if [ -n "$(figure 2)" ]; then
    # shellcheck disable=SC2046 # lists of numbers, one word each
    {
        calls=$(median_max $(figure 1)) held=$(median_max $(figure 2))
        all=$(median_max $(figure 3)) det=$(median_max $(figure 4))
    }
    printf '  the worker, medians of %s attaches (max): %.0f calls redirected;\n' "$(figure 2 | wc -l)" \
        "${calls% *}"
    echo "  held at attach ${held% *} ms (${held#* }), all threads stopped ${all% *} ms (${all#* }),"
    echo "  held at detach ${det% *} ms (${det#* })"
fi
