#!/bin/sh
# The CI gate end to end, as a Node.js project would use it: a test suite with a planted
# readFileSync fails `run --check --forbid file`; it passes once the call site is allowlisted;
# it fails again when a new blocking call is planted; and the suite's own failure wins over
# the gate's. Exit status follows the automake test driver: 0 pass, 1 fail, 77 skip.
set -u

# shellcheck source=../lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"
skip_unless node
need_built "$stallscope"
scratch
cleanup() {
    for trace in "$tmp"/run/stallscope-*.trace; do
        pid=${trace##*/stallscope-}
        rm -f "/tmp/perf-${pid%.trace}.map"
    done
    rm -rf "$tmp"
}
cp "$SS_SRCDIR"/tests/ci/suite/*.js "$tmp/" || exit 99
cd "$tmp" || exit 99

suite="node suite.js"
# shellcheck source=lib.sh
. "$SS_SRCDIR/tests/ci/lib.sh"

# 1. The planted readFileSync fails the gate, in every report.
ALLOW=
gate 1 planted && {
    expect planted.out '^FAILED forbid: (open64|read)\(\) in loadConfig'
    expect planted.junit.xml '<failure type="forbid"'
    expect planted.github '^::error file=app\.js,line=[0-9]+,col=[0-9]+,title=stallscope forbid%3A'
    expect planted.md '^### stallscope check: failed'
    node -e 'const s = JSON.parse(require("fs").readFileSync("planted.sarif", "utf8"));
        const flows = s.runs[0].results.filter((x) => x.ruleId === "forbid" && x.codeFlows)
            .map((x) => x.codeFlows[0].threadFlows[0].locations);
        process.exit(flows.some((f) => f.some((l) => /loadConfig/.test(l.location.message.text)))
            ? 0 : 1)' ||
        { echo "FAIL: planted.sarif has no code flow through loadConfig"; failures=$((failures + 1)); }
}

# 2. Allowlisted (the entries check generates for today's findings), the suite passes.
"$stallscope" check --forbid file --generate-allowlist run >allow.txt || failures=$((failures + 1))
expect allow.txt '^fun:loadConfig$'
ALLOW="--allow allow.txt"
gate 0 allowed && {
    expect allowed.out '^ALLOWED forbid: (open64|read)\(\) in loadConfig'
    expect allowed.out '^result: passed'
    expect allowed.junit.xml '<skipped message="allowed by allow.txt:'
}

# 3. A new blocking call fails it again, and only the new one fails.
gate 1 second PLANT_SECOND=1 && {
    expect second.out '^FAILED forbid: access\(\) in checkTemplate'
    expect second.out '^result: FAILED: 1 finding,'
}

# 4. A failing suite keeps its own status, findings or not.
gate 3 suite-fails PLANT_SECOND=1 FAIL_ONE=1

[ "$failures" -eq 0 ]
