#!/bin/sh
# A run of many more stalls than --keep-stalls keeps in detail: every output counts all of
# them, says that some were summarised, and the flame outputs (folded, speedscope's stalled
# time by stack) are the same as with every stall kept. Bad values of the option are refused
# with status 2. Exit status follows the automake test driver.
set -u
# shellcheck source=../lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"
GEN=$SS_BUILDDIR/bench/gen-trace
STALLS=2000 KEEP=40

need_built "$stallscope" "$GEN"
scratch
cd "$tmp" || exit 99
# out FILE ARGS...: runs stallscope with its output in FILE; a failure is a harness error.
out() {
    file=$1
    shift
    "$stallscope" "$@" >"$file" 2>"$file.err" || { echo "ERROR: stallscope $* failed:"; cat "$file.err"; exit 99; }
}

"$GEN" run "$STALLS" || exit 99
summarised=$((STALLS - KEEP))

for format in folded speedscope json chrome; do
    out "all.$format" export --format "$format" --keep-stalls 0 run
    out "some.$format" export --format "$format" --keep-stalls "$KEEP" run
done

[ -s all.folded ] || fail "the folded export is empty"
if cmp -s all.folded some.folded; then
    ok "folded stacks are the same with $KEEP stalls kept as with all $STALLS"
else
    fail "folded stacks differ with --keep-stalls $KEEP:"
    diff all.folded some.folded | head -5
fi
out default.folded export --format folded run
cmp -s all.folded default.folded || fail "folded stacks differ with the default --keep-stalls"

if command -v python3 >/dev/null 2>&1; then
    python3 "$SS_SRCDIR/tests/cli/flame-by-stack.py" all.speedscope >all.bystack || exit 99
    python3 "$SS_SRCDIR/tests/cli/flame-by-stack.py" some.speedscope >some.bystack || exit 99
    if [ -s all.bystack ] && cmp -s all.bystack some.bystack; then
        ok "speedscope's stalled time by stack is the same with $KEEP stalls kept"
    else
        fail "speedscope's stalled time by stack differs with --keep-stalls $KEEP:"
        diff all.bystack some.bystack | head -5
    fi
else
    echo "SKIP: no python3 to read the speedscope files with"
    skipped=1
fi

# JSON: the kept stalls are listed (each has "in_progress" once) and the summary says the rest.
kept=$(grep -c '"in_progress"' some.json)
[ "$kept" -eq "$KEEP" ] || fail "JSON lists $kept stalls, want $KEEP"
grep -q '"summarised": {' some.json || fail "JSON has no summarised object"
grep -q "\"keep_stalls\": $KEEP," some.json || fail "JSON does not say how many were kept"
grep -q "\"stalls\": $summarised," some.json || fail "JSON does not count $summarised summarised stalls"
grep -q '"summarised"' all.json && fail "JSON of a run kept whole has a summarised object"
[ "$(grep -c '"in_progress"' all.json)" -eq "$STALLS" ] || fail "JSON with --keep-stalls 0 lacks stalls"

# Chrome: a slice per kept stall, the count of the others in its metadata.
slices=$(grep -c '"name": "stall"' some.chrome)
[ "$slices" -eq "$KEEP" ] || fail "the Chrome trace has $slices stall slices, want $KEEP"
grep -q "\"summarised_stalls\": $summarised" some.chrome || fail "the Chrome trace's metadata lacks the count"
grep -q summarised_stalls all.chrome && fail "the Chrome trace of a run kept whole names summarised stalls"

# report: the totals count every stall, and one line says what was summarised and why.
out all.report report --keep-stalls 0 run
out some.report report --keep-stalls "$KEEP" run
out default.report report run
for f in all some; do
    head -1 "$f.report" | grep -q ", $STALLS stalls\$" || fail "report ($f) does not count $STALLS stalls: $(head -1 "$f.report")"
    grep -q "^  stalls: $STALLS " "$f.report" || fail "report ($f) lacks the process's $STALLS stalls"
done
if grep -q "and $summarised shorter stalls summarised, .*only the $KEEP longest are kept in detail" some.report; then
    ok "report: $(grep 'shorter stalls summarised' some.report | sed 's/^ *//')"
else
    fail "report does not say that $summarised stalls were summarised"
fi
grep -q summarised all.report && fail "report of a run kept whole mentions summarised stalls"
cmp -s all.report default.report || fail "the default --keep-stalls changed the report of $STALLS stalls"

# check: the longest stall is kept, so max-stall still fails; it says the summarised ones may too.
"$stallscope" check --max-stall 1s --keep-stalls "$KEEP" run >check.txt 2>&1
[ $? -eq 1 ] || fail "check --max-stall 1s did not fail"
grep -q "$STALLS stalls" check.txt || fail "check does not count $STALLS stalls"
grep -q "^note: $summarised shorter stalls were summarised .*up to [1-9][0-9]* of them may also be over max-stall" check.txt ||
    fail "check does not say that summarised stalls may be over max-stall"
"$stallscope" check --max-stall 10s --keep-stalls "$KEEP" run >check10.txt 2>&1
[ $? -eq 0 ] || fail "check --max-stall 10s failed"
grep -q "may also be over" check10.txt && fail "check warns of summarised stalls over a limit none reaches"

# The viewer shows the kept stalls and a line for the others.
out view.txt view --batch --keep-stalls "$KEEP" run
grep -q "and $summarised shorter stalls summarised" view.txt || fail "the viewer does not say that stalls were summarised"

for cmd in report "export --format json" check view; do
    for bad in -1 x 1e3 ''; do
        # shellcheck disable=SC2086
        "$stallscope" $cmd --keep-stalls "$bad" run >/dev/null 2>bad.err
        status=$?
        if [ $status -ne 2 ] || [ "$(wc -l <bad.err)" -ne 1 ] || ! grep -q -- '--keep-stalls' bad.err; then
            fail "stallscope $cmd --keep-stalls '$bad' -> status $status: $(cat bad.err)"
        fi
    done
done
[ $failures -eq 0 ] && ok "--keep-stalls refuses bad values with one line and status 2"

[ $failures -eq 0 ] || exit 1
[ "${skipped:-0}" -eq 0 ] || exit 77
exit 0
