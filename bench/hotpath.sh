#!/bin/sh
# Hot path: ns per call of bench/hotpath without the shim and under `stallscope run`, runs
# interleaved and medians taken; then callgrind's instruction counts, which do not depend on
# the machine's load. Run by scripts/bench, which sets SS, SHIM, OUT, BIN and REPS, and
# SS_BEFORE and SHIM_BEFORE to measure an earlier build beside this one ("before").
#
# The shim starts no thread in the host, so a single-threaded program stays single-threaded
# and "shim - plain" is the whole of what it adds on the host's side. The "+thread" column (the
# same program with one idle thread more) is kept for the earlier design, whose watchdog
# thread made the host multi-threaded: glibc's system-call wrappers then take their slower
# path, a cost that was glibc's and that "before - plain" still contains.
set -eu
before=${SS_BEFORE:+1}
rows=$OUT/hotpath.tsv # mode place variant ns_per_call
: >"$rows"
calls=100

iterations_of() { # the mutex loop is 30 times faster than a system call: more iterations
    [ "$1" = mutex ] && echo 300000 || echo 20000
}

measure() { # MODE PLACE VARIANT
    iters=$(iterations_of "$1")
    if [ "$3" != base ]; then
        ss=$SS
        [ "$3" = shim ] || ss=$SS_BEFORE
        line=$("$ss" run -q -o "$OUT/hot-run" -- "$BIN/hotpath" "$1" $calls "$iters" "$2")
        case $line in *libstallscope*) ;; *) echo "hotpath: the shim was not loaded: $line" >&2; exit 1 ;; esac
    else
        line=$("$BIN/hotpath" "$1" $calls "$iters" "$2")
    fi
    ns=$(echo "$line" | sed 's/.*ns_per_call=\([0-9.]*\).*/\1/')
    printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$ns" >>"$rows"
}

# What is measured: each call kind on the loop thread (plain, plain with one more idle
# thread, shim, the earlier shim), and off the loop thread (plain, shim, the earlier shim).
plan="wait:loop:base wait:mt:base wait:loop:shim${before:+ wait:loop:before}"
for m in read write mutex file; do
    plan="$plan $m:loop:base $m:mt:base $m:loop:shim${before:+ $m:loop:before}"
    plan="$plan $m:off:base $m:off:shim${before:+ $m:off:before}"
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
echo "  ns per call, median of $REPS runs (each the median of 10 batches); \"+thread\": the plain"
echo "  program with one idle thread more, as the earlier design's watchdog made it; before: the"
echo "  earlier build (BEFORE_BUILD), run by run beside this one"
header() {
    printf '  %-6s %-5s %10s %10s %10s %10s %12s %13s\n' call where plain +thread before shim \
        "shim-plain" "before-plain"
}
header
awk -F'\t' '
    function median(list,   n, a, i, j, x) {
        n = split(list, a, " ")
        for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    function col(key, v) { return (key, v) in ns ? sprintf("%.1f", median(ns[key, v])) : "-" }
    function diff(key, v) {
        return (key, v) in ns ? sprintf("%+.1f", median(ns[key, v]) - median(ns[key, "base"])) : "-"
    }
    { where = $2 == "mt" ? "loop" : $2; key = $1 " " where
      if (!(key in seen)) { seen[key] = 1; order[++k] = key }
      v = $2 == "mt" ? "mt" : $3; ns[key, v] = ns[key, v] " " $4 }
    END {
        for (i = 1; i <= k; i++) {
            o = order[i]; split(o, f, " ")
            printf "  %-6s %-5s %10s %10s %10s %10s %12s %13s\n", f[1], f[2], col(o, "base"),
                col(o, "mt"), col(o, "before"), col(o, "shim"), diff(o, "shim"), diff(o, "before")
        }
    }' "$rows"

# Instructions per call: callgrind counts only inside run_batch, on the main thread.
echo
echo "  instructions per call (callgrind, main thread, inside the timed loop only)"
header
cg_iters=2000
per_batch=$((cg_iters / 10))
timed_calls=$(((per_batch / 5 + 1 + per_batch * 10) * calls))
instructions() { # MODE PLACE [SHIM]
    rm -f "$OUT"/cg.out*
    if [ $# -gt 2 ]; then
        # valgrind passes its own environment to the program: LD_PRELOAD set here reaches it
        # (after valgrind's own preloads); hotpath prints what read(2) resolved to. With no
        # monitor named in the options, the shim starts one beside the program, as it does
        # under a plain LD_PRELOAD; the earlier shim starts its watchdog thread.
        LD_PRELOAD=$3 STALLSCOPE_OPTIONS="output=$OUT/cg-run" valgrind --tool=callgrind \
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
row() { # MODE PLACE PLAIN THREAD BEFORE SHIM, in instructions per run ("-": not measured)
    awk -v m="$1" -v w="$2" -v b="$3" -v t="$4" -v o="$5" -v s="$6" -v n="$timed_calls" '
        function per(x) { return x == "-" ? "-" : sprintf("%.1f", x / n) }
        function diff(x) { return x == "-" ? "-" : sprintf("%+.1f", (x - b) / n) }
        BEGIN { printf "  %-6s %-5s %10s %10s %10s %10s %12s %13s\n", m, w, per(b), per(t),
            per(o), per(s), diff(s), diff(o) }'
}
for mode in wait read write mutex file; do
    b=$(instructions "$mode" loop)
    t=$(instructions "$mode" mt)
    s=$(instructions "$mode" loop "$SHIM")
    o=-
    [ -z "$before" ] || o=$(instructions "$mode" loop "$SHIM_BEFORE")
    row "$mode" loop "$b" "$t" "$o" "$s"
done
for mode in read write mutex file; do
    b=$(instructions "$mode" off)
    s=$(instructions "$mode" off "$SHIM")
    o=-
    [ -z "$before" ] || o=$(instructions "$mode" off "$SHIM_BEFORE")
    row "$mode" off "$b" - "$o" "$s"
done
