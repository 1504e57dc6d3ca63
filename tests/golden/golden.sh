#!/bin/sh
# Golden files: the report, every export format and every output of check, made from the run
# that make-run writes (the same on every machine), compared with the committed files by
# diff -u (the pprof profile, binary, by cmp).
# SS_UPDATE_GOLDEN=1 rewrites the committed files instead; review their diff before
# committing. Exit status follows the automake test driver: 0 pass, 1 fail, 99 harness error.
set -u
# shellcheck source=../lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"
MAKE_RUN=$SS_BUILDDIR/tests/golden/make-run
GOLDEN=$SS_SRCDIR/tests/golden

need_built "$stallscope" "$MAKE_RUN"
scratch
cd "$tmp" || exit 99
"$MAKE_RUN" golden.run || exit 99
cp "$GOLDEN/rules.txt" "$GOLDEN/allow.txt" . || exit 99

# Outputs must not depend on where the test runs: paths of the program are made relative to
# $GITHUB_WORKSPACE, and the version is masked.
GITHUB_WORKSPACE=/app
export GITHUB_WORKSPACE
unset GITHUB_ACTIONS GITHUB_STEP_SUMMARY
version=$("$stallscope" --version | sed 's/^stallscope //')

# run NAME WANT ARGS...: runs stallscope, keeps its stdout as NAME, checks the status.
run() {
    name=$1 want=$2
    shift 2
    "$stallscope" "$@" >"$name" 2>"$name.err"
    got=$?
    if [ "$got" -ne "$want" ]; then
        echo "FAIL: stallscope $* -> status $got (want $want)"
        cat "$name.err"
        failures=$((failures + 1))
    fi
}

run report.txt 0 report golden.run
run export.json 0 export --format json golden.run
run export.folded 0 export --format folded golden.run
run export.speedscope.json 0 export --format speedscope golden.run
run export.chrome.json 0 export --format chrome -o export.chrome.json golden.run
run export.pprof.gz 0 export --format pprof golden.run
run check.txt 1 check --rules rules.txt --junit check.junit.xml --sarif check.sarif \
    --write-baseline check.baseline golden.run
GITHUB_ACTIONS=true GITHUB_STEP_SUMMARY=$tmp/check.md run check.github.out 1 check \
    --rules rules.txt golden.run
grep '^::' check.github.out >check.github
run check.allowlist 0 check --rules rules.txt --generate-allowlist golden.run
run check-baseline.txt 0 check --rules rules.txt --baseline check.baseline golden.run
run check-scope.txt 1 check --forbid file --max-stall 60ms --process node --thread 'no*' \
    golden.run
run check-clean.txt 0 check --max-stall 15s --junit check-clean.junit.xml golden.run
run check-causes.txt 1 check --forbid-cause stopped,blocked --ignore-cause cpu:code \
    --max-stall 100ms --budget starved=5ms --budget blocked=20s golden.run

for name in report.txt export.json export.folded export.speedscope.json export.chrome.json check.txt \
    check.junit.xml check.sarif check.baseline check.github check.md check.allowlist \
    check-baseline.txt check-scope.txt check-clean.txt check-clean.junit.xml check-causes.txt; do
    sed "s/$version/@VERSION@/g" "$name" >"$name.masked"
    if [ "${SS_UPDATE_GOLDEN:-}" = 1 ]; then
        cp "$name.masked" "$GOLDEN/expected/$name"
    elif ! diff -u "$GOLDEN/expected/$name" "$name.masked"; then
        echo "FAIL: $name differs from tests/golden/expected/$name"
        failures=$((failures + 1))
    else
        echo "ok: $name"
    fi
done
# The pprof profile is compared as the message it holds, which does not depend on zlib's
# version as the compressed bytes might; its gzip header must hold no time.
if [ "$(od -An -tx1 -N10 export.pprof.gz | tr -d ' \n')" != 1f8b0800000000000003 ]; then
    echo "FAIL: export.pprof.gz has a gzip header with a time or a name: $(od -An -tx1 -N10 export.pprof.gz)"
    failures=$((failures + 1))
fi
gzip -dc export.pprof.gz >export.pprof || failures=$((failures + 1))
if [ "${SS_UPDATE_GOLDEN:-}" = 1 ]; then
    cp export.pprof "$GOLDEN/expected/export.pprof"
elif ! cmp "$GOLDEN/expected/export.pprof" export.pprof; then
    echo "FAIL: export.pprof differs from tests/golden/expected/export.pprof"
    failures=$((failures + 1))
else
    echo "ok: export.pprof"
fi
[ "$failures" -eq 0 ]
