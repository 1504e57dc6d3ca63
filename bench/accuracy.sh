#!/bin/sh
# Detection accuracy: stalls of known length (the fixture times its own spins) recorded at
# several thresholds. For each stall the trace should hold one stall of the same length when
# the stall reaches the threshold, and none when it does not.
# Run by scripts/bench, which sets SS, OUT, BIN (the helpers), REPS, THRESHOLDS and LENGTHS.
set -eu
# threshold length_ms planted_ns detected duration_ns first_delay_ns samples_expected samples
rows=$OUT/accuracy.tsv
caps=$OUT/captures.tsv   # threshold capture_ns frames
: >"$rows"
: >"$caps"

for rep in $(seq "$REPS"); do
    for t in $THRESHOLDS; do
        run=$OUT/acc-$t
        # run refuses an interval above the threshold; the default is 10 ms.
        interval=$((t < 10 ? t : 10))
        "$SS" run -q --threshold "${t}ms" --interval "${interval}ms" -o "$run" -- \
            "$BIN/stall-plant" $LENGTHS >"$run.planted"
        "$SS" export --format json "$run" | jq -r '.processes[].stalls[] |
            [.start_ns, .duration_ns,
             ([.samples[] | select(.source == "signal") | .offset_ns] | min // -1),
             ([.samples[] | select(.source == "signal")] | length)] | @tsv' \
            >"$run.stalls"
        "$SS" export --format json "$run" | jq -r --arg t "$t" '.processes[].stalls[].samples[] |
            select(.source == "signal") | [$t, .capture_ns, (.frames | length)] | @tsv' >>"$caps"
        # Match each planted stall to the recorded stall that began within 2 ms before it.
        awk -v t="$t" -v interval="$interval" '
            FNR == NR { start[NR] = $1; dur[NR] = $2; first[NR] = $3; got[NR] = $4; n = NR; next }
            $1 == "planted" {
                hit = 0
                for (i = 1; i <= n; i++)
                    if (start[i] <= $3 && $3 - start[i] < 2000000) { hit = i; break }
                th = t * 1000000; len = $4
                expected = len >= th ? int((len - th) / (interval * 1000000)) + 1 : 0
                delay = hit && first[hit] >= 0 ? first[hit] - th : "-"
                printf "%d\t%d\t%s\t%d\t%s\t%s\t%s\t%d\n", t, $2, len, (hit ? 1 : 0),
                    (hit ? dur[hit] : 0), delay, expected, (hit ? got[hit] : 0)
            }' "$run.stalls" "$run.planted" >>"$rows"
        echo "  threshold ${t}ms done (repetition $rep/$REPS)"
    done
done

echo
echo "  per threshold: stalls that reached it (detected/planted), shorter ones (recorded/planted),"
echo "  |recorded - planted duration|, first sample after the threshold, signal samples taken"
echo "  of those the interval allows, time to unwind one (off the loop thread) and its frames"
printf '  %9s %10s %10s %10s %10s %10s %10s %8s %11s %11s %6s\n' threshold detected false \
    "err p50" "err max" "delay p50" "delay max" samples "capture p50" "capture max" frames
awk -F'\t' '
    function pct(list, p,   n, a, i, j, x) {
        n = split(list, a, " "); if (!n) return 0
        for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
        i = int(p / 100 * n + 0.999999); return a[i < 1 ? 1 : i]
    }
    FILENAME ~ /captures/ { cap[$1] = cap[$1] " " $2; fr[$1] = fr[$1] " " $3; next }
    {
        t = $1; if (!(t in seen)) { seen[t] = 1; order[++k] = t }
        if ($2 >= t) {
            long[t]++; want[t] += $7; got[t] += $8
            if ($4) { det[t]++; e = $5 - $3; err[t] = err[t] " " (e < 0 ? -e : e) }
            if ($6 != "-") delay[t] = delay[t] " " $6
        } else { short[t]++; if ($4) fp[t]++ }
    }
    END {
        for (i = 1; i <= k; i++) {
            t = order[i]
            printf "  %7sms %6d/%-3d %6d/%-3d %8.1fus %8.1fus %8.2fms %8.2fms %7.1f%% %9.0fus %9.0fus %6d\n",
                t, det[t], long[t], fp[t], short[t], pct(err[t], 50) / 1e3, pct(err[t], 100) / 1e3,
                pct(delay[t], 50) / 1e6, pct(delay[t], 100) / 1e6,
                want[t] ? 100 * got[t] / want[t] : 0, pct(cap[t], 50) / 1e3,
                pct(cap[t], 100) / 1e3, pct(fr[t], 50)
        }
    }' "$rows" "$caps"
