#!/bin/sh
# stallscope attach on a Python asyncio server and a Node.js server, each started without the
# shim and under a steady load of pings on four connections: attached for 1 s, with a 300 ms
# stall planted by a signal, and detached, twenty times in a row. The load sees no failure,
# the server exits 0 and prints only what it prints unattached, and every run holds its
# planted stall (for Python with the planted function named from the interpreter's frames;
# for Node.js, started without perf maps, the report says how to have its frames named).
# A runtime that is absent is skipped with a message.
# shellcheck source=../lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"
skip_unless python3
need_built "$stallscope"
scratch
cleanup() {
    kill "$client_pid" "$server_pid" 2>/dev/null
    rm -rf "$tmp"
}
here=$SS_SRCDIR/tests/attach
rounds=20

attach_rounds() { # NAME SIGNAL NAMED(function the report must name, or "") COMMAND...
    name=$1 sig=$2 named=$3
    shift 3
    "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
    server_pid=$!
    port=
    for _ in $(seq 100); do
        port=$(sed -n 's/^listening //p' "$tmp/$name.out")
        [ -n "$port" ] && break
        sleep 0.1
    done
    [ -n "$port" ] || { fail "$name: the server did not start"; return; }
    python3 "$here/client.py" 127.0.0.1 "$port" 4 >"$tmp/$name.client" &
    client_pid=$!
    found=0
    for round in $(seq "$rounds"); do
        run=$tmp/$name.run$round
        "$stallscope" attach -o "$run" --duration 1s "$server_pid" 2>"$tmp/$name.attach" &
        attach_pid=$!
        for _ in $(seq 100); do
            grep -q "attached to process" "$tmp/$name.attach" && break
            sleep 0.05
        done
        kill "-$sig" "$server_pid"
        wait "$attach_pid"
        status=$?
        if [ "$status" -ne 0 ]; then
            fail "$name round $round: attach exited with $status: $(cat "$tmp/$name.attach")"
            break
        fi
        "$stallscope" export --format json -o "$run.json" "$run" 2>/dev/null
        "$stallscope" report --depth 24 "$run" >"$run.report" 2>&1
        if python3 - "$run.json" <<'PY' && { [ -z "$named" ] || grep -q "$named" "$run.report"; }; then
import json, sys
run = json.load(open(sys.argv[1]))
sys.exit(0 if any(s["duration_ns"] >= 250e6 for p in run["processes"] for s in p["stalls"]) else 1)
PY
            found=$((found + 1))
        else
            echo "$name round $round: the planted stall is not in the run:"
            sed 's/^/    /' "$run.report" | head -40
        fi
        rm -rf "$run" "$run.json"
    done
    kill -TERM "$client_pid"
    wait "$client_pid"
    read -r _ answered _ failed <"$tmp/$name.client"
    [ "${failed:-1}" -eq 0 ] && [ "${answered:-0}" -gt 0 ] ||
        fail "$name: the load saw failures: $(cat "$tmp/$name.client")"
    kill -TERM "$server_pid"
    wait "$server_pid"
    status=$?
    [ "$status" -eq 0 ] || fail "$name: the server exited with $status"
    [ ! -s "$tmp/$name.err" ] || { fail "$name: the server wrote errors:"; cat "$tmp/$name.err"; }
    [ "$(wc -l <"$tmp/$name.out")" -eq 2 ] || fail "$name: the server's output: $(cat "$tmp/$name.out")"
    # A stall planted in the few milliseconds of an attach or a detach may fall outside it.
    [ "$found" -ge $((rounds - 2)) ] || fail "$name: the planted stall was in $found runs of $rounds"
    ok "$name: attached $rounds times under load ($answered answers, none failed), stall in $found runs"
}

attach_rounds python USR1 planted_python_spin python3 "$SS_SRCDIR/tests/fixtures/python/attach_server.py"
if command -v node >/dev/null 2>&1; then
    attach_rounds node USR2 "start node with --perf-basic-prof-only-functions" node "$SS_SRCDIR/tests/fixtures/node/attach-server.js"
else
    echo "SKIP: node not installed"
fi
[ "$failures" -eq 0 ] || exit 1
echo "PASS: Python and Node.js servers attached and detached under load"
