# shellcheck shell=sh
# Sourced by the CI gate tests after tests/lib/lib.sh and scratch, in $tmp: runs a project's
# test suite under `stallscope run --check` as a CI job would, and checks what it wrote.

# gate WANT NAME [VAR=VALUE...]: runs $suite (the suite's command, word-split) under run
# --forbid file with $ALLOW; NAME.out holds the check's report, NAME.junit.xml and NAME.sarif
# its reports, NAME.github the annotations. The status must be WANT.
gate() {
    want=$1 name=$2
    shift 2
    forget_run
    # shellcheck disable=SC2086
    env "$@" GITHUB_ACTIONS=true GITHUB_WORKSPACE="$tmp" GITHUB_STEP_SUMMARY="$tmp/$name.md" \
        "$stallscope" run -q -o run --forbid file $ALLOW --junit "$name.junit.xml" \
        --sarif "$name.sarif" -- $suite >"$name.github" 2>"$name.out"
    got=$?
    if [ "$got" -ne "$want" ]; then
        echo "FAIL: $name: status $got, want $want"
        sed 's/^/    /' "$name.out"
        failures=$((failures + 1))
        return 1
    fi
    echo "ok: $name: status $got"
}

# forget_run: removes the previous run, and the perf maps its processes' runtime wrote.
forget_run() {
    for trace in run/stallscope-*.trace; do
        [ -e "$trace" ] || continue
        pid=${trace##*/stallscope-}
        rm -f "/tmp/perf-${pid%.trace}.map"
    done
    rm -rf run
}

# expect FILE PATTERN: FILE has a line matching the extended regex PATTERN.
expect() {
    if ! grep -qE "$2" "$1"; then
        echo "FAIL: $1 has no line matching '$2'"
        sed 's/^/    /' "$1"
        failures=$((failures + 1))
    fi
}

# expect_no FILE PATTERN: FILE has no line matching PATTERN.
expect_no() {
    if grep -qE "$2" "$1"; then
        echo "FAIL: $1 has a line matching '$2'"
        sed 's/^/    /' "$1"
        failures=$((failures + 1))
    fi
}
