#!/bin/sh
# The golden run's exports and reports read by real consumers: flamegraph.pl for folded
# stacks, xmllint and junit-to-ctrf for JUnit, the SARIF multitool's validator and the SARIF
# 2.1.0 schema with ajv, the speedscope schema, and a nesting check of the Chrome trace.
# npm packages are installed once into the build directory, never into the source tree.
# A consumer that cannot be had is skipped with a SKIP: line; the test then exits 77.
set -u
# shellcheck source=../lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"
MAKE_RUN=$SS_BUILDDIR/tests/golden/make-run
CACHE=$SS_BUILDDIR/consumers
PACKAGES="ajv@8.20.0 ajv-formats@3.0.1 speedscope@1.25.0 junit-to-ctrf@0.0.14
@microsoft/sarif-multitool-linux@5.7.0"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "SKIP: node or npm not installed"
    exit 77
fi
need_built "$stallscope" "$MAKE_RUN"
scratch
skipped=0
skip() {
    echo "SKIP: $*"
    skipped=$((skipped + 1))
}

if [ ! -f "$CACHE/installed" ]; then
    mkdir -p "$CACHE" || exit 99
    echo "installing into $CACHE: $(echo $PACKAGES)"
    # shellcheck disable=SC2086
    if (cd "$CACHE" && npm install --no-audit --no-fund --no-save --loglevel=error \
        --prefix "$CACHE" $PACKAGES) >"$tmp/npm.log" 2>&1; then
        touch "$CACHE/installed"
    else
        skip "cannot install the validators from the npm registry ($(tail -1 "$tmp/npm.log"))"
    fi
fi

cd "$tmp" || exit 99
"$MAKE_RUN" golden.run || exit 99
cp "$SS_SRCDIR/tests/golden/rules.txt" "$SS_SRCDIR/tests/golden/allow.txt" .
GITHUB_WORKSPACE=/app "$stallscope" check --rules rules.txt --junit check.junit.xml \
    --sarif check.sarif golden.run >/dev/null
[ $? -eq 1 ] || fail "check of the golden run did not find what it should"
for f in folded speedscope chrome; do
    "$stallscope" export --format $f golden.run >"export.$f" || fail "export --format $f"
done
mv export.speedscope export.speedscope.json
mv export.chrome export.chrome.json

# Folded stacks: flamegraph.pl (shipped by Debian's libdevel-nytprof-perl) ignores and counts
# any line it cannot read.
flamegraph=$(command -v flamegraph.pl || ls /usr/share/perl5/Devel/NYTProf/flamegraph.pl \
    2>/dev/null)
if [ -n "$flamegraph" ]; then
    perl "$flamegraph" --countname=us export.folded >flame.svg 2>flame.err
    total=$(awk '{ s += $NF } END { print s }' export.folded)
    if [ -s flame.err ] || ! grep -q '<svg' flame.svg; then
        fail "flamegraph.pl: $(cat flame.err)"
    elif [ "$(sed -n 's/.*<title>all (\([0-9,]*\) us.*/\1/p' flame.svg | tr -d ,)" != "$total" ]
    then
        fail "flamegraph.pl does not count $total us in all"
    else
        echo "ok: flamegraph.pl draws export.folded ($total us in all)"
    fi
else
    skip "flamegraph.pl not installed (Debian package libdevel-nytprof-perl)"
fi

# JUnit: well-formed XML first.
if command -v xmllint >/dev/null 2>&1; then
    if xmllint --noout check.junit.xml; then
        echo "ok: xmllint reads check.junit.xml"
    else
        fail "xmllint refuses check.junit.xml"
    fi
else
    skip "xmllint not installed (Debian package libxml2-utils)"
fi

# SARIF: the SARIF SDK's own validator; it reports problems as "error" lines.
multitool=$CACHE/node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool
if [ -x "$multitool" ]; then
    "$multitool" validate check.sarif >multitool.out 2>&1
    if grep -E ': error [A-Z]' multitool.out; then
        fail "the SARIF multitool finds errors in check.sarif"
    elif ! grep -q 'Analysis completed successfully' multitool.out; then
        fail "the SARIF multitool did not finish: $(tail -3 multitool.out)"
    else
        echo "ok: the SARIF multitool validates check.sarif"
    fi
else
    skip "the SARIF multitool is not installed"
fi

node "$SS_SRCDIR/tests/golden/validate.mjs" "$CACHE/node_modules" "$tmp" >validate.out 2>&1 ||
    failures=$((failures + 1))
cat validate.out
skipped=$((skipped + $(grep -c '^SKIP' validate.out)))

[ "$failures" -eq 0 ] || exit 1
[ "$skipped" -eq 0 ] || exit 77
exit 0
