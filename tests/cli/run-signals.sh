#!/bin/sh
# `stallscope run` passes on the signals sent to it alone: SIGINT and SIGQUIT from kill (a
# supervisor, a CI runner cancelling a job) reach the command, which decides what to do, and
# run exits with the command's status; as do SIGTERM and SIGHUP. (The terminal's ^C reaches
# the whole process group, the command with it, and is not passed on a second time.)
# Exit status follows the automake test driver: 0 pass, 1 fail, 99 harness error.
# shellcheck source=../lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"
need_built "$stallscope"
scratch

# sent SIGNAL STATUS: the command traps SIGNAL, says so and exits STATUS; run is sent it. A
# command started in the background by a script has SIGINT and SIGQUIT ignored, which its
# children then could not trap: perl puts the defaults back first.
sent() {
    sig=$1 want=$2
    perl -e '$SIG{$_} = "DEFAULT" for qw(INT QUIT); exec @ARGV or die "$!"' \
        "$stallscope" run -q -o "$tmp/run-$sig" -- sh -c "trap 'echo got $sig; exit $want' $sig
        echo ready; while :; do sleep 0.05; done" >"$tmp/$sig.out" 2>&1 &
    run=$!
    for _ in $(seq 100); do
        grep -q ready "$tmp/$sig.out" 2>/dev/null && break
        sleep 0.05
    done
    kill -"$sig" "$run"
    for _ in $(seq 100); do
        kill -0 "$run" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$run" 2>/dev/null; then
        echo "FAIL: run ignored SIG$sig sent to it; the command runs on"
        kill -KILL "$run"
        failures=$((failures + 1))
        return
    fi
    wait "$run"
    got=$?
    if [ "$got" -ne "$want" ] || ! grep -q "got $sig" "$tmp/$sig.out"; then
        echo "FAIL: SIG$sig: run exited $got (want $want): $(cat "$tmp/$sig.out")"
        failures=$((failures + 1))
    else
        echo "ok: SIG$sig reached the command, run exited $got"
    fi
}

sent INT 3
sent QUIT 4
sent TERM 5
sent HUP 6
[ "$failures" -eq 0 ]
