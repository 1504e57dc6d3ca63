#!/bin/sh
# `stallscope view --pid PID` without -d finds the run from the process itself: the loop
# fixture runs under `stallscope run -o somewhere` started in one directory, and the viewer,
# started in another, shows its run. A process that is not traced, one whose environment alone
# names a run directory, and a pid that does not exist each get one line and status 2 (no
# terminal here, so nothing is offered).
# Exit status follows the automake test driver: 0 pass, 1 fail, 77 skip, 99 harness error.

# shellcheck source=../lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"
fixture=$SS_BUILDDIR/tests/fixtures/loop-fixture-O2
need_built "$stallscope" "$SS_BUILDDIR/stallscope-view" "$fixture"
: "${SS_WAIT:=60}"
scratch
run_pid='' fixture_pid='' sleeps=''
cleanup() {
    [ -n "$fixture_pid" ] && kill "$fixture_pid" 2>/dev/null
    # shellcheck disable=SC2086 # a list of pids
    [ -n "$sleeps" ] && kill $sleeps 2>/dev/null
    [ -n "$run_pid" ] && wait "$run_pid" 2>/dev/null
    rm -rf "$tmp"
}
mkdir "$tmp/a" "$tmp/b" "$tmp/c" || exit 99
real_c=$(cd "$tmp/c" && pwd -P) || exit 99

# wait_until COMMAND...: until it succeeds, within $SS_WAIT seconds (a guard, not a measure).
wait_until() {
    waited=0
    until "$@"; do
        if [ "$waited" -ge $((SS_WAIT * 10)) ]; then
            echo "ERROR: waited ${SS_WAIT}s in vain for: $*"
            exit 99
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
}
trace_exists() {
    ls "$tmp"/a/somewhere/stallscope-*.trace >/dev/null 2>&1
}

# A loop that runs long enough for the test, its run directory relative to where it started.
(cd "$tmp/a" && exec "$stallscope" run -q -o somewhere -- "$fixture" --spin 200 --quiet 100000) \
    >"$tmp/run.out" 2>&1 &
run_pid=$!
wait_until trace_exists
fixture_pid=$(basename "$(ls "$tmp"/a/somewhere/stallscope-*.trace | head -1)" .trace |
    sed 's/^stallscope-//')

# view_b NAME ARGS...: `stallscope view --batch --ascii ARGS` from the other directory, into
# $tmp/NAME; its status in $status.
view_b() {
    name=$1
    shift
    (cd "$tmp/b" && LC_ALL=C exec "$stallscope" view --batch --ascii "$@") </dev/null \
        >"$tmp/$name" 2>"$tmp/$name.err"
    status=$?
}
loop_shown() {
    view_b loops --view loops --pid "$fixture_pid"
    if [ "$status" -ne 0 ]; then
        fail "view --pid $fixture_pid from another directory -> status $status: $(cat "$tmp/loops.err")"
        return 0
    fi
    grep -Eq "^ +$fixture_pid +$fixture_pid +loop-fixture-O2 +[0-9]+ " "$tmp/loops"
}
wait_until loop_shown
[ "$failures" -eq 0 ] && ok "view --pid $fixture_pid found $tmp/a/somewhere from $tmp/b"
view_b flame --view flame --pid "$fixture_pid"
if [ "$status" -ne 0 ] || ! grep -q "^ Scope: pid $fixture_pid: " "$tmp/flame"; then
    fail "the flame of view --pid is not scoped to the process (status $status):"
    sed 's/^/    /' "$tmp/flame" "$tmp/flame.err"
fi

# Not traced, at no terminal: said, nothing offered.
sleep 30 &
untraced=$!
sleeps="$sleeps $untraced"
stallscope_exits 2 "^stallscope: view: process $untraced \(sleep\) is not traced by stallscope; .stallscope attach $untraced. records it$" \
    view --pid "$untraced"
stallscope_exits 2 "process $untraced \(sleep\) is not traced" view --batch --pid "$untraced"
# -d still names the directory, as it did.
stallscope_exits 2 "no trace of that process in $tmp/a/somewhere" view --pid "$untraced" -d "$tmp/a/somewhere"

# The environment alone names where it would be traced, relative to its working directory.
(cd "$tmp/c" && STALLSCOPE_OPTIONS=output=elsewhere exec sleep 30) &
named=$!
sleeps="$sleeps $named"
environ_read() {
    tr '\0' '\n' <"/proc/$named/environ" 2>/dev/null | grep -q '^STALLSCOPE_OPTIONS=output=elsewhere$' &&
        [ "$(cat "/proc/$named/comm" 2>/dev/null)" = sleep ]
}
wait_until environ_read
stallscope_exits 2 "^stallscope: view: --pid $named: traced into $real_c/elsewhere, which holds no trace of it yet$" \
    view --pid "$named"

# A pid that no longer exists.
sh -c 'exit 0' &
gone=$!
wait "$gone"
stallscope_exits 2 "^stallscope: view: no process $gone$" view --pid "$gone"

[ "$failures" -eq 0 ]
