#!/bin/sh
# Several traced processes at once under one monitor, each followed by a tracker thread of its
# own: four loops of 20 iterations of 30 ms run side by side, and each has its 19 stalls (the
# first wait begins the loop, the last return ends in exit) in its own trace. The TSan leg runs
# it for the trackers' shared state.
# Exit status follows the automake test driver: 0 pass, 1 fail, 77 skip, 99 harness error.
# shellcheck source=../lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"
fixture=$SS_BUILDDIR/tests/fixtures/stall-storm
need_built "$stallscope" "$fixture"
scratch

"$stallscope" run -q -o "$tmp/run" --threshold 10ms -- sh -c \
    "for i in 1 2 3 4; do '$fixture' 20 30000 & done; wait" >"$tmp/out" 2>"$tmp/err" ||
    fail "the run failed: $(cat "$tmp/out" "$tmp/err")"
[ "$(grep -cx 'stalls 20' "$tmp/out")" -eq 4 ] || fail "not every loop ran: $(cat "$tmp/out")"
"$stallscope" report "$tmp/run" >"$tmp/report" 2>&1 || fail "report failed: $(head "$tmp/report")"
loops=$(grep -cE '^    [0-9]+ +stall-storm +19 ' "$tmp/report")
[ "$loops" -eq 4 ] && ok "4 processes traced at once, each with its 19 iterations" ||
    fail "$loops of 4 loops with 19 iterations: $(cat "$tmp/report")"
stalls=$(grep -c '^  stalls: 19 ' "$tmp/report")
[ "$stalls" -eq 4 ] && ok "each with its 19 stalls" || fail "$stalls of 4 processes with 19 stalls"
[ "$failures" -eq 0 ]
