# shellcheck shell=sh
# Sourced by the shell tests, first thing: finds the build and the sources, gives a scratch
# directory removed at exit, and counts failures. A test's exit status follows the automake
# test driver: 0 pass, 1 fail, 77 skip, 99 harness error.

: "${SS_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${SS_BUILDDIR:=$PWD}"
SS_BUILDDIR=$(cd "$SS_BUILDDIR" && pwd) || exit 99
# shellcheck disable=SC2034 # for the tests that source this
stallscope=$SS_BUILDDIR/stallscope
# shellcheck disable=SC2034
shim=$SS_BUILDDIR/.libs/libstallscope.so
failures=0

# need_built FILE...: a harness error unless every FILE exists.
need_built() {
    for file; do
        if [ ! -e "$file" ]; then
            echo "ERROR: no $file (set SS_BUILDDIR to the build directory)"
            exit 99
        fi
    done
}

# skip_unless COMMAND: skips the test, visibly, when COMMAND is not installed.
skip_unless() {
    if ! command -v "$1" >/dev/null 2>&1; then
        echo "SKIP: $1 not installed"
        exit 77
    fi
}

# scratch: $tmp, a fresh directory that cleanup removes at exit. A test that leaves other
# things behind defines its own cleanup, which removes $tmp too.
scratch() {
    tmp=$(mktemp -d) || exit 99
    trap cleanup EXIT
    trap 'exit 99' HUP INT TERM
}
cleanup() {
    rm -rf "$tmp"
}

fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}
ok() {
    echo "ok: $*"
}

# stallscope_exits STATUS PATTERN ARGS...: runs `stallscope ARGS`, stdin from /dev/null, into
# $tmp/said.out and $tmp/said.err (needs scratch). It must exit with STATUS and write a line
# matching the extended regex PATTERN (anything, when PATTERN is empty) on stderr; a usage or
# input error (status 2) must be that one line and nothing else. Counts a failure otherwise.
stallscope_exits() {
    want=$1 pattern=$2
    shift 2
    "$stallscope" "$@" </dev/null >"$tmp/said.out" 2>"$tmp/said.err"
    got=$?
    if [ "$got" -ne "$want" ] || { [ -n "$pattern" ] && ! grep -qE -- "$pattern" "$tmp/said.err"; } ||
        { [ "$want" -eq 2 ] && [ "$(wc -l <"$tmp/said.err")" -ne 1 ]; }; then
        fail "stallscope $* -> status $got (want $want), stderr:"
        sed 's/^/    /' "$tmp/said.err"
    else
        ok "stallscope $* -> $got: $(head -1 "$tmp/said.err")"
    fi
}

# pythons_found FILE: writes to FILE the real CPython 3.8 or later interpreters of the machine,
# each once, by its resolved path: python3.X on PATH, the versions of pyenv, the python3 of
# PATH and the system's own (which a version manager's shims hide). Says which minors are
# missing.
pythons_found() {
    {
        for minor in 8 9 10 11 12 13; do
            command -v "python3.$minor" 2>/dev/null
        done
        root=${PYENV_ROOT:-$(pyenv root 2>/dev/null)}
        [ -n "$root" ] && ls "$root"/versions/3.*/bin/python3.* 2>/dev/null
        command -v python3 2>/dev/null
        ls /usr/bin/python3.* /usr/local/bin/python3.* 2>/dev/null
    } | while read -r candidate; do
        real=$("$candidate" -c 'import sys
if sys.version_info >= (3, 8) and sys.implementation.name == "cpython": print(sys.executable)' \
            2>/dev/null) || continue
        [ -n "$real" ] && realpath "$real"
    done | sort -u >"$1"
    for minor in 8 9 10 11 12 13; do
        grep -q "python3\.$minor\$" "$1" || echo "SKIP: no Python 3.$minor found"
    done
}
