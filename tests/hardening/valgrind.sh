#!/bin/sh
# The CLI under valgrind on a recorded trace: every command that reads a run, with zero
# memory errors and no leaks. Skipped when valgrind is missing or the CLI is built with
# sanitizers (the two do not mix).
set -u
# shellcheck source=../lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"
skip_unless valgrind
if nm "$stallscope" 2>/dev/null | grep -qE '__(a|t)san_init'; then
    echo "SKIP: stallscope is built with sanitizers"
    exit 77
fi
scratch
"$stallscope" run -q -o "$tmp/run" -- "$SS_BUILDDIR/tests/hardening/host-fixture" spin 120 spin 80 \
    thread-loop 90 >/dev/null || { echo "cannot record"; exit 99; }
for cmd in "report" "report --top 1 --depth 3" "export --format json" "export --format folded" \
    "export --format speedscope" "export --format chrome" "check --max-stall 10ms"; do
    # shellcheck disable=SC2086
    valgrind -q --error-exitcode=42 --leak-check=full --errors-for-leak-kinds=definite,indirect \
        --log-file="$tmp/vg.log" "$stallscope" $cmd "$tmp/run" >/dev/null 2>"$tmp/err"
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
