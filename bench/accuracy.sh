#!/bin/sh
# Detection accuracy: stalls of known length (the fixture times its own spins) recorded at
# several thresholds. For each stall the trace should hold one stall of the same length when
# the stall reaches the threshold, and none when it does not.
# Run by scripts/bench, which sets SS, OUT, BIN (the helpers), REPS, THRESHOLDS and LENGTHS;
# and SS_BEFORE to run an earlier build beside this one, threshold by threshold ("before").
#
# The fixture spins, so its stalls are sampled while the thread runs: by perf events where the
# kernel allows them ("perf"), else by the sampling signal ("signal"), which is also how the
# earlier build sampled every stall. Those are the samples counted here; "call" and "syscall"
# samples (a thread blocked in a call) do not occur in this fixture.
set -eu
# variant threshold length_ms planted_ns detected duration_ns first_delay_ns samples_expected samples
rows=$OUT/accuracy.tsv
caps=$OUT/captures.tsv     # variant threshold capture_ns frames
sources=$OUT/sources.tsv   # variant source
: >"$rows"
: >"$caps"
: >"$sources"
variants="stallscope${SS_BEFORE:+ before}"
running='select(.source == "perf" or .source == "signal")'

for rep in $(seq "$REPS"); do
    for t in $THRESHOLDS; do
        for v in $variants; do
            ss=$SS
            [ "$v" = stallscope ] || ss=$SS_BEFORE
            run=$OUT/acc-$v-$t
            rm -rf "$run"
            # run refuses an interval above the threshold; the default is 10 ms.
            interval=$((t < 10 ? t : 10))
            "$ss" run -q --threshold "${t}ms" --interval "${interval}ms" -o "$run" -- \
                "$BIN/stall-plant" $LENGTHS >"$run.planted"
            "$ss" export --format json "$run" >"$run.json"
            jq -r ".processes[].stalls[] |
                [.start_ns, .duration_ns,
                 ([.samples[] | $running | .offset_ns] | min // -1),
                 ([.samples[] | $running] | length)] | @tsv" "$run.json" >"$run.stalls"
            jq -r --arg v "$v" --arg t "$t" ".processes[].stalls[].samples[] | $running |
                [\$v, \$t, .capture_ns, (.frames | length)] | @tsv" "$run.json" >>"$caps"
            jq -r --arg v "$v" '.processes[].stalls[].samples[] | [$v, .source] | @tsv' \
                "$run.json" >>"$sources"
            # Match each planted stall to the recorded stall that began within 2 ms before it.
            awk -v v="$v" -v t="$t" -v interval="$interval" '
                FNR == NR { start[NR] = $1; dur[NR] = $2; first[NR] = $3; got[NR] = $4; n = NR; next }
                $1 == "planted" {
                    hit = 0
                    for (i = 1; i <= n; i++)
                        if (start[i] <= $3 && $3 - start[i] < 2000000) { hit = i; break }
                    th = t * 1000000; len = $4
                    expected = len >= th ? int((len - th) / (interval * 1000000)) + 1 : 0
                    delay = hit && first[hit] >= 0 ? first[hit] - th : "-"
                    printf "%s\t%d\t%d\t%s\t%d\t%s\t%s\t%s\t%d\n", v, t, $2, len, (hit ? 1 : 0),
                        (hit ? dur[hit] : 0), delay, expected, (hit ? got[hit] : 0)
                }' "$run.stalls" "$run.planted" >>"$rows"
        done
        echo "  threshold ${t}ms done (repetition $rep/$REPS)"
    done
done

echo
echo "  samples by source: $(sort "$sources" | uniq -c | awk '{printf "%s %s %d; ", $2, $3, $1}')"
echo
echo "  per threshold: stalls that reached it (detected/planted), shorter ones (recorded/planted),"
echo "  |recorded - planted duration|, first sample after the threshold, samples of the running"
echo "  thread (perf or signal) taken of those the interval allows, time to unwind one (in the"
echo "  monitor; in the earlier build, its watchdog thread) and its frames"
printf '  %-10s %9s %10s %10s %10s %10s %10s %10s %8s %11s %11s %6s\n' variant threshold detected \
    false "err p50" "err max" "delay p50" "delay max" samples "capture p50" "capture max" frames
awk -F'\t' '
    function pct(list, p,   n, a, i, j, x) {
        n = split(list, a, " "); if (!n) return 0
        for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
        i = int(p / 100 * n + 0.999999); return a[i < 1 ? 1 : i]
    }
    FILENAME ~ /captures/ { k2 = $1 " " $2; cap[k2] = cap[k2] " " $3; fr[k2] = fr[k2] " " $4; next }
    {
        t = $1 " " $2; if (!(t in seen)) { seen[t] = 1; order[++k] = t }
        if ($3 >= $2) {
            long[t]++; want[t] += $8; got[t] += $9
            if ($5) { det[t]++; e = $6 - $4; err[t] = err[t] " " (e < 0 ? -e : e) }
            if ($7 != "-") delay[t] = delay[t] " " $7
        } else { short[t]++; if ($5) fp[t]++ }
    }
    END {
        for (i = 1; i <= k; i++) {
            t = order[i]; split(t, f, " ")
            printf "  %-10s %7sms %6d/%-3d %6d/%-3d %8.1fus %8.1fus %8.2fms %8.2fms %7.1f%% %9.0fus %9.0fus %6d\n",
                f[1], f[2], det[t], long[t], fp[t], short[t], pct(err[t], 50) / 1e3,
                pct(err[t], 100) / 1e3, pct(delay[t], 50) / 1e6, pct(delay[t], 100) / 1e6,
                want[t] ? 100 * got[t] / want[t] : 0, pct(cap[t], 50) / 1e3,
                pct(cap[t], 100) / 1e3, pct(fr[t], 50)
        }
    }' "$rows" "$caps" | sort -s -k1,1
