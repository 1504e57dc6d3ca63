#!/bin/sh
# The CLI under valgrind on a recorded trace: every command that reads a run, with zero
# memory errors and no leaks. Skipped when valgrind is missing or the CLI is built with
# sanitizers (the two do not mix).
set -u
BUILD=${SS_BUILDDIR:-$(pwd)}
SS="$BUILD/stallscope"
if ! command -v valgrind >/dev/null 2>&1; then
    echo "SKIP: valgrind is not installed"
    exit 77
fi
if nm "$SS" 2>/dev/null | grep -qE '__(a|t)san_init'; then
    echo "SKIP: stallscope is built with sanitizers"
    exit 77
fi
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
"$SS" run -q -o "$tmp/run" -- "$BUILD/tests/hardening/host-fixture" spin 120 spin 80 \
    thread-loop 90 >/dev/null || { echo "cannot record"; exit 99; }
failures=0
for cmd in "report" "report --top 1 --depth 3" "export --format json" "export --format folded" \
    "export --format speedscope" "export --format chrome" "check --max-stall 10ms"; do
    # shellcheck disable=SC2086
    valgrind -q --error-exitcode=42 --leak-check=full --errors-for-leak-kinds=definite,indirect \
        --log-file="$tmp/vg.log" "$SS" $cmd "$tmp/run" >/dev/null 2>"$tmp/err"
    rc=$?
    if [ "$rc" -eq 42 ] || [ -s "$tmp/vg.log" ]; then
        echo "FAIL: valgrind stallscope $cmd (status $rc):"
        sed 's/^/    /' "$tmp/vg.log" | head -40
        failures=$((failures + 1))
    else
        echo "ok: stallscope $cmd -> $rc, no valgrind errors"
    fi
done
[ "$failures" -eq 0 ]
