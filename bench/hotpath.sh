#!/bin/sh
# Hot path: ns per call of bench/hotpath without the shim and under `stallscope run`, runs
# interleaved and medians taken; then callgrind's instruction counts, which do not depend on
# the machine's load. Run by scripts/bench, which sets SS, SHIM, OUT, BIN and REPS.
set -eu
rows=$OUT/hotpath.tsv # mode place variant ns_per_call
: >"$rows"
calls=100

iterations_of() { # the mutex loop is 30 times faster than a system call: more iterations
    [ "$1" = mutex ] && echo 300000 || echo 20000
}

measure() { # MODE PLACE VARIANT
    iters=$(iterations_of "$1")
    if [ "$3" = shim ]; then
        line=$("$SS" run -q -o "$OUT/hot-run" -- "$BIN/hotpath" "$1" $calls "$iters" "$2")
        case $line in *libstallscope*) ;; *) echo "hotpath: the shim was not loaded: $line" >&2; exit 1 ;; esac
    else
        line=$("$BIN/hotpath" "$1" $calls "$iters" "$2")
    fi
    ns=$(echo "$line" | sed 's/.*ns_per_call=\([0-9.]*\).*/\1/')
    printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$ns" >>"$rows"
}

# What is measured: each call kind on the loop thread (plain, plain with one more idle
# thread, shim), and off the loop thread (plain, shim).
plan="wait:loop:base wait:mt:base wait:loop:shim"
for m in read write mutex file; do
    plan="$plan $m:loop:base $m:mt:base $m:loop:shim $m:off:base $m:off:shim"
done

for rep in $(seq "$REPS"); do
    for step in $plan; do
        IFS=: read -r mode place variant <<EOF
$step
EOF
        measure "$mode" "$place" "$variant"
    done
    echo "  repetition $rep/$REPS done, load: $(uptime | sed 's/.*load average: //')"
done

echo
echo "  ns per call, median of $REPS runs (each the median of 10 batches); \"+thread\" is the"
echo "  program with one more idle thread, as the shim's watchdog makes it"
printf '  %-6s %-5s %10s %10s %10s %12s %12s\n' call where plain +thread shim "shim-plain" "shim-thread"
awk -F'\t' '
    function median(list,   n, a, i, j, x) {
        n = split(list, a, " ")
        for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    { where = $2 == "mt" ? "loop" : $2; key = $1 " " where
      if (!(key in seen)) { seen[key] = 1; order[++k] = key }
      v = $2 == "mt" ? "mt" : $3; ns[key, v] = ns[key, v] " " $4 }
    END {
        for (i = 1; i <= k; i++) {
            split(order[i], f, " ")
            b = median(ns[order[i], "base"]); s = median(ns[order[i], "shim"])
            if ((order[i], "mt") in ns) {
                t = median(ns[order[i], "mt"])
                printf "  %-6s %-5s %10.1f %10.1f %10.1f %+12.1f %+12.1f\n", f[1], f[2], b, t, s, s - b, s - t
            } else
                printf "  %-6s %-5s %10.1f %10s %10.1f %+12.1f %12s\n", f[1], f[2], b, "-", s, s - b, "-"
        }
    }' "$rows"

# Instructions per call: callgrind counts only inside run_batch, on the main thread.
echo
echo "  instructions per call (callgrind, main thread, inside the timed loop only)"
printf '  %-6s %-5s %10s %10s %10s %12s %12s\n' call where plain +thread shim "shim-plain" "shim-thread"
cg_iters=2000
per_batch=$((cg_iters / 10))
timed_calls=$(((per_batch / 5 + 1 + per_batch * 10) * calls))
instructions() { # MODE PLACE [shim]
    rm -f "$OUT"/cg.out*
    if [ $# -gt 2 ]; then
        # valgrind passes its own environment to the program: LD_PRELOAD set here reaches it
        # (after valgrind's own preloads); hotpath prints what read(2) resolved to.
        LD_PRELOAD=$SHIM STALLSCOPE_OPTIONS="output=$OUT/cg-run" valgrind --tool=callgrind \
            --callgrind-out-file="$OUT/cg.out" --separate-threads=yes --collect-atstart=no \
            --toggle-collect=run_batch "$BIN/hotpath" "$1" $calls $cg_iters "$2" \
            >"$OUT/cg.stdout" 2>"$OUT/cg.stderr"
        grep -q libstallscope "$OUT/cg.stdout" || {
            echo "callgrind: the shim was not loaded: $(cat "$OUT/cg.stdout")" >&2
            exit 1
        }
    else
        valgrind --tool=callgrind --callgrind-out-file="$OUT/cg.out" --separate-threads=yes \
            --collect-atstart=no --toggle-collect=run_batch \
            "$BIN/hotpath" "$1" $calls $cg_iters "$2" >"$OUT/cg.stdout" 2>"$OUT/cg.stderr"
    fi
    # The main thread's file is the one ending in -01.
    awk '/^summary:/ {print $2}' "$OUT"/cg.out*-01
}
for mode in wait read write mutex file; do
    b=$(instructions "$mode" loop)
    t=$(instructions "$mode" mt)
    s=$(instructions "$mode" loop shim)
    awk -v m="$mode" -v b="$b" -v t="$t" -v s="$s" -v n="$timed_calls" 'BEGIN {
        printf "  %-6s %-5s %10.1f %10.1f %10.1f %+12.1f %+12.1f\n", m, "loop", b / n, t / n, s / n, (s - b) / n, (s - t) / n }'
done
for mode in read write mutex file; do
    b=$(instructions "$mode" off)
    s=$(instructions "$mode" off shim)
    awk -v m="$mode" -v b="$b" -v s="$s" -v n="$timed_calls" 'BEGIN {
        printf "  %-6s %-5s %10.1f %10s %10.1f %+12.1f %12s\n", m, "off", b / n, "-", s / n, (s - b) / n, "-" }'
done
