#!/bin/sh
# The pprof export against its baseline, the folded export, which shares stalled time among
# samples by the same rule: both timed on the same synthetic runs (bench/gen-trace), with the
# default --keep-stalls and with every stall kept in detail, where pprof also classifies each
# stall for its cause label. Time and peak RSS come from GNU time. Run by scripts/bench, which
# sets SS, OUT, BIN and SIZES.
set -eu

printf '  %9s %-6s %-7s %9s %9s %9s %9s %11s\n' stalls kept format seconds "us/stall" "peak MB" \
    "out KB" "vs folded"
for n in $SIZES; do
    run=$OUT/pprof-$n
    rm -rf "$run"
    "$BIN/gen-trace" "$run" "$n"
    for keep in 20000 0; do
        folded_secs=
        for format in folded pprof; do
            /usr/bin/time -f '%e %M' -o "$OUT/time.out" "$SS" export --format $format \
                --keep-stalls $keep -o "$OUT/export.out" "$run"
            read -r secs kb <"$OUT/time.out"
            bytes=$(wc -c <"$OUT/export.out")
            [ $format = folded ] && folded_secs=$secs
            awk -v n="$n" -v k="$([ $keep = 0 ] && echo all || echo $keep)" -v f=$format \
                -v s="$secs" -v kb="$kb" -v b="$bytes" -v base="$folded_secs" 'BEGIN {
                printf "  %9d %-6s %-7s %9.2f %9.2f %9.1f %9.1f %10.2fx\n", n, k, f, s,
                    s * 1e6 / n, kb / 1024, b / 1024, (base > 0 ? s / base : 1) }'
        done
    done
    rm -rf "$run" "$OUT/export.out"
done
