#!/bin/sh
# Runtime test: native frames as the report shows them. symfix-loop stalls for 200 ms inside
# a library it dlopen()s after its loop started; the stall's stack must name the library's
# function and the program's caller with their source file and line, --frames user (report
# and export) must hide the C library's start-up frames, and once the library is rebuilt its frames must be
# reported as changed and left as module+offset, not named from the new file.
# Exit status follows the automake test driver: 0 pass, 1 fail, 77 skip, 99 harness error.

# shellcheck source=../lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"
fixtures=$SS_BUILDDIR/tests/fixtures/symfix
need_built "$stallscope" "$fixtures/symfix-loop" "$fixtures/libsymfix.so" "$fixtures/symfix"
scratch

fail() {
    echo "FAIL: $*"
    echo "--- stallscope report --frames all"
    cat "$tmp/all"
    exit 1
}

# Copies, so that the library can be "rebuilt" afterwards without touching the build tree.
cp "$fixtures/symfix-loop" "$fixtures/libsymfix.so" "$tmp/" || exit 99
"$stallscope" run -q -o "$tmp/run" -- "$tmp/symfix-loop" "$tmp/libsymfix.so" ||
    { echo "FAIL: symfix-loop failed under stallscope"; exit 1; }
"$stallscope" report --frames all "$tmp/run" >"$tmp/all" || fail "report failed"
"$stallscope" report --frames user "$tmp/run" >"$tmp/user" || fail "report --frames user failed"

# "NAME MODULE FILE:LINE" rows of the report's stacks.
frame_line() { # NAME FILE REPORT -> the line number shown for NAME in FILE
    awk -v name="$1" -v file="$2" '$1 == name && index($3, file ":") == 1 {
        sub(/.*:/, "", $3); print $3; exit }' "$3"
}
# First and last line of a function in a fixture's source.
body() { # NAME SOURCE
    awk -v name="$1" 'index($0, name "(") && !start { start = NR }
        start && /^}/ { print start, NR; exit }' "$SS_SRCDIR/tests/fixtures/symfix/$2"
}
within() { # LINE FIRST LAST
    [ -n "$1" ] && [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]
}

grep -q "1 stall" "$tmp/all" || fail "expected one stall"
set -- $(body symfix_lib_spin symfix-lib.c)
line=$(frame_line symfix_lib_spin symfix-lib.c "$tmp/all")
within "$line" "$1" "$2" ||
    fail "no frame symfix_lib_spin at symfix-lib.c:$1-$2 (got '${line}')"
set -- $(body symfix_loop_stall symfix-loop.c)
line=$(frame_line symfix_loop_stall symfix-loop.c "$tmp/all")
within "$line" "$1" "$2" ||
    fail "no frame symfix_loop_stall at symfix-loop.c:$1-$2 (got '${line}')"
grep -q "__libc_start_call_main\|__libc_start_main" "$tmp/all" ||
    fail "--frames all does not show the C library's start-up frames"

grep -q "symfix_lib_spin" "$tmp/user" && grep -q "symfix_loop_stall" "$tmp/user" ||
    fail "--frames user hides the program's frames: $(cat "$tmp/user")"
grep -q "__libc_start" "$tmp/user" &&
    fail "--frames user shows the C library's start-up frames: $(cat "$tmp/user")"
grep -q "\[[0-9]* runtime frames*\]" "$tmp/user" ||
    fail "--frames user does not say how many frames it hid: $(cat "$tmp/user")"

# The flame exports leave the runtime's frames out the same way.
"$stallscope" export --frames user --format folded -o "$tmp/user.folded" "$tmp/run" ||
    fail "export --frames user failed"
grep -q ";main;symfix_loop_stall;symfix_lib_spin " "$tmp/user.folded" ||
    fail "export --frames user lost the program's frames: $(cat "$tmp/user.folded")"
grep -q "__libc_start" "$tmp/user.folded" &&
    fail "export --frames user kept the C library's start-up frames: $(cat "$tmp/user.folded")"

# The library is replaced by another build (any other ELF file has another build-id).
cp "$fixtures/symfix" "$tmp/libsymfix.so" || exit 99
"$stallscope" report --frames all "$tmp/run" >"$tmp/all" || fail "report after the rebuild failed"
grep -q "note: $tmp/libsymfix.so is not the file that ran" "$tmp/all" ||
    fail "the rebuilt library is not reported"
grep -q "symfix_lib_spin" "$tmp/all" && fail "the rebuilt library's frames are still named"
grep -q "libsymfix.so+0x[0-9a-f]" "$tmp/all" || fail "the rebuilt library's frames are not module+offset"
grep -q "symfix_loop_stall" "$tmp/all" || fail "the unchanged program's frames lost their names"
"$stallscope" export --format json -o "$tmp/run.json" "$tmp/run" || fail "export failed"
grep -A1 '"stale_modules": \[' "$tmp/run.json" | grep -q "\"$tmp/libsymfix.so\"" ||
    fail "the JSON export does not list the rebuilt library in stale_modules"
exit 0
