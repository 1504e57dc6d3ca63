#!/bin/sh
# Programs the shim cannot enter: `stallscope run` warns before it runs one as the command,
# and a child that ran one shows up in the parent's trace, in report, the JSON export, check
# and the summary of run. Traced programs get none of it.
set -u
# shellcheck source=../lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"
FIXTURE="$SS_BUILDDIR/tests/hardening/host-fixture"
STATIC="$SS_BUILDDIR/tests/hardening/static-true"
scratch

fail() {
    echo "FAIL: $1"
    [ -n "${2:-}" ] && sed 's/^/    /' "$2"
    failures=$((failures + 1))
}

# The command itself: one warning, and it still runs with its own status.
"$stallscope" run -o "$tmp/static" -- "$STATIC" 2>"$tmp/err"
status=$?
[ "$status" -eq 0 ] || fail "run of a static program: status $status" "$tmp/err"
grep -q "^stallscope: warning: $STATIC will run untraced: statically linked" "$tmp/err" ||
    fail "run of a static program gives no warning" "$tmp/err"
[ "$(grep -c 'warning' "$tmp/err")" -eq 1 ] || fail "more than one warning" "$tmp/err"

# The control: a traced command and its traced child, no word about untraced programs.
"$stallscope" run -o "$tmp/plain" -- "$FIXTURE" spawn /bin/true >/dev/null 2>"$tmp/err" ||
    fail "traced run failed" "$tmp/err"
! grep -q untraced "$tmp/err" || fail "a traced command is said to run untraced" "$tmp/err"
"$stallscope" report "$tmp/plain" >"$tmp/report" 2>&1 || fail "report of the plain run" "$tmp/report"
! grep -q untraced "$tmp/report" || fail "a traced child is said to run untraced" "$tmp/report"

# A child that runs a static program: the summary, report, JSON and check say so.
"$stallscope" run -o "$tmp/child" -- "$FIXTURE" spawn "$STATIC" >/dev/null 2>"$tmp/err" ||
    fail "run with a static child failed" "$tmp/err"
grep -q '; 1 child program ran untraced$' "$tmp/err" || fail "the summary does not count it" "$tmp/err"
"$stallscope" report "$tmp/child" >"$tmp/report" 2>&1 || fail "report failed" "$tmp/report"
grep -qE "^  note: child [0-9]+ ran $STATIC untraced: statically linked" "$tmp/report" ||
    fail "report does not show the note" "$tmp/report"
"$stallscope" export --format json -o "$tmp/run.json" "$tmp/child" 2>"$tmp/err" || fail "export failed" "$tmp/err"
grep -qE "\"child [0-9]+ ran $STATIC untraced: statically linked" "$tmp/run.json" ||
    fail "the JSON export has no such note" "$tmp/run.json"
"$stallscope" check --max-stall 10s "$tmp/child" >"$tmp/check" 2>&1 || fail "check failed" "$tmp/check"
grep -q '^note: 1 child program ran untraced, so it was not checked' "$tmp/check" ||
    fail "check does not mention it" "$tmp/check"
"$stallscope" check --max-stall 10s "$tmp/plain" >"$tmp/check" 2>&1 || fail "check failed" "$tmp/check"
! grep -q untraced "$tmp/check" || fail "check mentions untraced programs of a plain run" "$tmp/check"

# A set-user-ID command (root only: it must belong to another user).
if [ "$(id -u)" -eq 0 ]; then
    cp "$FIXTURE" "$tmp/setuid" && chown 65534:65534 "$tmp/setuid" && chmod 04755 "$tmp/setuid" &&
        chmod 0755 "$tmp"
    "$stallscope" run -o "$tmp/suid" -- "$tmp/setuid" >/dev/null 2>"$tmp/err"
    grep -q "warning: $tmp/setuid will run untraced: set-user-ID (runs as user 65534)" "$tmp/err" ||
        fail "run of a set-user-ID program gives no warning" "$tmp/err"
else
    echo "skipped the set-user-ID command: needs root"
fi

[ "$failures" -eq 0 ] && echo "all passed"
[ "$failures" -eq 0 ]
