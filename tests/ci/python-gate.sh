#!/bin/sh
# The CI gate end to end, as a Python asyncio project would use it: a test suite whose
# load_config reads a file on the loop fails `run --check --forbid file`, each finding named
# after the Python function that made the call; it passes once the findings are allowlisted
# (entries by Python function); it fails again when a new blocking call is planted, and only
# for that one; and the suite's own failure wins over the gate's. Exit status follows the
# automake test driver: 0 pass, 1 fail, 77 skip.
set -u

# shellcheck source=../lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"
skip_unless python3
need_built "$stallscope"
scratch
cp "$SS_SRCDIR"/tests/ci/suite-python/*.py "$tmp/" || exit 99
cd "$tmp" || exit 99

suite="python3 suite.py"
# shellcheck source=lib.sh
. "$SS_SRCDIR/tests/ci/lib.sh"

# 1. The planted file read fails the gate, in every report, named by its Python function;
#    no finding is named after the interpreter's own C functions, not even the summary the
#    suite writes just before it exits.
ALLOW=
gate 1 planted && {
    expect planted.out '^FAILED forbid: (open64|read|fstat64)\(\) in load_config'
    expect_no planted.out '^FAILED forbid: .* in (_Py|Py|_io|os_)'
    expect planted.junit.xml '<failure type="forbid"'
    expect planted.github '^::error file=app\.py,line=[0-9]+,.*title=stallscope forbid%3A'
    expect planted.md '^### stallscope check: failed'
    python3 -c 'import json, sys
s = json.load(open("planted.sarif"))
flows = [x["codeFlows"][0]["threadFlows"][0]["locations"] for x in s["runs"][0]["results"]
         if x["ruleId"] == "forbid" and x.get("codeFlows")]
sys.exit(0 if any("load_config" in l["location"]["message"]["text"] for f in flows for l in f)
         else 1)' ||
        { echo "FAIL: planted.sarif has no code flow through load_config"; failures=$((failures + 1)); }
}

# 2. Allowlisted (the entries check generates for today's findings), the suite passes.
"$stallscope" check --forbid file --generate-allowlist run >allow.txt || failures=$((failures + 1))
expect allow.txt '^fun:load_config$'
ALLOW="--allow allow.txt"
gate 0 allowed && {
    expect allowed.out '^ALLOWED forbid: (open64|read|fstat64)\(\) in load_config'
    expect allowed.out '^result: passed'
    expect allowed.junit.xml '<skipped message="allowed by allow.txt:'
}

# 3. A new blocking call fails it again, and only the new one fails, though the interpreter
#    makes it from the same native call sites as the allowlisted one.
gate 1 second PLANT_SECOND=1 && {
    expect second.out '^FAILED forbid: (open64|read|fstat64)\(\) in check_template'
    expect_no second.out '^FAILED forbid: .* in load_config'
    expect second.out '^result: FAILED: [0-9]+ findings?, [1-9][0-9]* allowed'
}

# 4. A failing suite keeps its own status, findings or not.
gate 3 suite-fails PLANT_SECOND=1 FAIL_ONE=1

[ "$failures" -eq 0 ]
