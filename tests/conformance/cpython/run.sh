#!/bin/sh
# CPython's own suite, as Debian ships it: `python3.11 -m test` on the files in ./tests less
# the cases in ./excluded, CPYTHON_JOBS workers (default 4: most of the suite waits, using a
# quarter of a core per worker), no resources (so no network), stdin from /dev/null, a
# per-file timeout, JUnit XML for per-test-case results. The verbose log is OUT/log.
# Usage: run.sh OUT (the pass comes from the environment, see ../lib.sh).
set -u
OUT=$1
. "$(dirname "$0")/../lib.sh"
: >"$OUT/results"
testdir=/usr/lib/python3.11/test
if [ ! -f "$testdir/regrtest.py" ]; then
    echo "SKIP: CPython's test suite is not installed ($testdir)" >"$OUT/skipped"
    exit 0
fi
tests=
for name in ${CPYTHON_TESTS:-$(grep -v '^#' "$CONFORMANCE_DIR/cpython/tests")}; do
    if [ -d "$testdir/$name" ]; then
        for module in "$testdir/$name"/test_*.py; do
            module=${module##*/}
            tests="$tests $name.${module%.py}"
        done
    else
        tests="$tests $name"
    fi
done
grep -v '^#' "$CONFORMANCE_DIR/cpython/excluded" >"$OUT/ignore"
cd "$OUT" || exit 1
# --timeout: a file that runs longer (the longest took 93 s without the shim on a loaded
# machine) has its tracebacks dumped into the log after the -v line of the test that was
# running, which the parser names, and its worker killed. The whole run gets less than the
# gate gives the suite (900 s), so that what it did report is still read.
# shellcheck disable=SC2086
boxed 840 "$OUT/trace" "$PY" -m test -v -j"${CPYTHON_JOBS:-4}" --timeout "${CPYTHON_FILE_TIMEOUT:-180}" \
    --ignorefile "$OUT/ignore" --junit-xml "$OUT/junit.xml" $tests </dev/null >"$OUT/log" 2>&1
echo $? >"$OUT/status"
"$PY" "$CONFORMANCE_DIR/cpython/results.py" "$OUT/junit.xml" "$OUT/log" >>"$OUT/results"
