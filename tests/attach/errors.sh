#!/bin/sh
# stallscope attach where it cannot, or must not, attach: each case exits 2 with one line that
# says why, and leaves the process as it was (a second attach to a process being recorded
# leaves the first one's run as it was). Then the cases where the process or attach itself
# ends early: the server exits while attached (attach ends with its summary, status 0), ^C
# comes at moments through the attach (whatever was attached is detached), and attach is
# killed with SIGKILL at moments through the injection (the server goes on serving, with
# nothing on its stderr, and exits 0).
# shellcheck source=../lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"
skip_unless python3
server=$SS_BUILDDIR/tests/fixtures/attach-server
static=$SS_BUILDDIR/tests/fixtures/static-pause
need_built "$stallscope" "$server" "$static"
scratch
cleanup() {
    for p in $pids; do kill -9 "$p" 2>/dev/null; done
    rm -rf "$tmp"
}
pids=
here=$SS_SRCDIR/tests/attach

start_server() { # starts the attach server into $tmp/$1.*, sets $server_pid and $port
    "$server" >"$tmp/$1.out" 2>"$tmp/$1.err" &
    server_pid=$!
    pids="$pids $server_pid"
    port=
    for _ in $(seq 100); do
        port=$(sed -n 's/^listening //p' "$tmp/$1.out")
        [ -n "$port" ] && return 0
        sleep 0.1
    done
    echo "FAIL: the server did not start"
    exit 1
}
pings() { # PORT: one ping answered
    python3 - "$1" <<'PY'
import socket, sys
with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10) as s:
    s.sendall(b"ping\n")
    sys.exit(0 if s.makefile("rb").readline().startswith(b"pong") else 1)
PY
}

stallscope_exits 2 "expected a process id" attach abc
stallscope_exits 2 "expected one process id" attach
true &
gone=$!
wait "$gone"
stallscope_exits 2 "no process $gone" attach -o "$tmp/r" "$gone"

"$static" &
static_pid=$!
pids="$pids $static_pid"
for _ in $(seq 100); do # until the shell's child has become the program
    [ "$(readlink "/proc/$static_pid/exe")" = "$(realpath "$static")" ] && break
    sleep 0.05
done
stallscope_exits 2 "statically linked" attach -o "$tmp/r" "$static_pid"

"$stallscope" run -q -o "$tmp/traced" -- sleep 30 &
pids="$pids $!"
for _ in $(seq 100); do
    traced=$(pgrep -f -n "^sleep 30$") && break
    sleep 0.1
done
pids="$pids $traced"
stallscope_exits 2 "traced already, by stallscope run: its run directory is $tmp/traced" \
    attach -o "$tmp/r" "$traced"

sleep 30 &
debugged=$!
pids="$pids $debugged"
python3 - "$debugged" >"$tmp/tracer.out" <<'PY' &
import ctypes, sys, time
libc = ctypes.CDLL(None, use_errno=True)
PTRACE_SEIZE = 0x4206
if libc.ptrace(PTRACE_SEIZE, int(sys.argv[1]), None, None) != 0:
    print("cannot seize", ctypes.get_errno(), flush=True)
    sys.exit(1)
print("seized", flush=True)
time.sleep(30)
PY
pids="$pids $!"
for _ in $(seq 100); do
    [ -s "$tmp/tracer.out" ] && break
    sleep 0.1
done
if grep -q seized "$tmp/tracer.out"; then
    stallscope_exits 2 "traced by .*python3" attach -o "$tmp/r" "$debugged"
else
    fail "the test could not trace a process itself: $(cat "$tmp/tracer.out")"
fi

if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null 2>&1; then
    mkdir -m 777 "$tmp/nobody"
    sleep 30 &
    theirs=$!
    pids="$pids $theirs"
    setpriv --reuid=65534 --regid=65534 --clear-groups "$stallscope" attach -o "$tmp/nobody/r" \
        "$theirs" </dev/null >"$tmp/said.out" 2>"$tmp/said.err"
    status=$?
    if [ "$status" -eq 2 ] && grep -q "another user" "$tmp/said.err"; then
        ok "another user's process -> 2: $(cat "$tmp/said.err")"
    else
        fail "another user's process -> $status: $(cat "$tmp/said.err")"
    fi
else
    echo "SKIP: another user's process (needs root and setpriv)"
fi

start_server plain
stallscope_exits 2 "process $server_pid is not attached" attach --detach "$server_pid"

# The server exits while attached: attach ends with it, and summarises.
"$stallscope" attach -o "$tmp/exits" "$server_pid" 2>"$tmp/exits.err" &
attach_pid=$!
for _ in $(seq 100); do
    grep -q "attached to process" "$tmp/exits.err" && break
    sleep 0.1
done
# The loop was in its wait when attached: it is followed from the next one.
pings "$port" || fail "the server did not answer while attached"
kill -USR1 "$server_pid"
sleep 0.5
kill -TERM "$server_pid"
wait "$attach_pid"
status=$?
if [ "$status" -eq 0 ] && grep -q "stallscope: 1 stall" "$tmp/exits.err"; then
    ok "the process exited while attached: attach ended with it"
else
    fail "the process exited while attached: attach -> $status: $(cat "$tmp/exits.err")"
fi
wait "$server_pid" || fail "the server exited with $? while attached"

# A second attach while the first records: refused before it touches the first's run.
start_server twice
"$stallscope" attach -q -o "$tmp/first" --duration 3s "$server_pid" 2>"$tmp/first.err" &
attach_pid=$!
for _ in $(seq 100); do
    [ -n "$(ls "$tmp/first" 2>/dev/null)" ] && break
    pings "$port" >/dev/null
    sleep 0.05
done
stallscope_exits 2 "being recorded already, into $tmp/first" attach -o "$tmp/first" "$server_pid"
wait "$attach_pid" || fail "the first attach exited with $?: $(cat "$tmp/first.err")"
ls "$tmp/first"/stallscope-"$server_pid"*.trace >/dev/null 2>&1 ||
    fail "the refused attach removed the first one's trace"

# catching_int PID: waits until PID catches SIGINT. A command started with & from a script
# starts with SIGINT ignored: sent before attach has its handler, ^C would be lost.
catching_int() {
    tries=0
    while [ "$tries" -lt 500 ]; do
        mask=$(sed -n 's/^SigCgt:\t*//p' "/proc/$1/status" 2>/dev/null)
        [ -z "$mask" ] && return 0
        [ $((0x$mask & 2)) -ne 0 ] && return 0
        tries=$((tries + 1))
        sleep 0.01
    done
}

# ^C at moments through the attach: attach detaches whatever it attached, and ends.
for delay in 0 0.01 0.05 0.1 0.2; do
    "$stallscope" attach -q -o "$tmp/interrupted" "$server_pid" 2>>"$tmp/interrupted.err" &
    attach_pid=$!
    catching_int "$attach_pid"
    sleep "$delay"
    kill -INT "$attach_pid"
    wait "$attach_pid"
    if python3 "$here/got.py" "$server_pid" | grep -q " shim$"; then
        fail "^C after ${delay}s: GOT entries still lead to the shim after attach ended"
        break
    fi
done
pings "$port" || fail "the server stopped answering after the interrupted attaches"
kill -TERM "$server_pid"
wait "$server_pid" || fail "the server exited with $? after the interrupted attaches"
[ ! -s "$tmp/twice.err" ] || { fail "the server wrote errors:"; cat "$tmp/twice.err"; }
ok "a second attach is refused, and ^C during an attach leaves nothing attached"

# attach killed at moments through the injection: the server must go on.
start_server killed
for delay in 0 0.001 0.002 0.005 0.01 0.02 0.03 0.05 0.08 0.12; do
    "$stallscope" attach -q -o "$tmp/killed.run" "$server_pid" 2>>"$tmp/killed.attach" &
    attach_pid=$!
    sleep "$delay"
    kill -9 "$attach_pid" 2>/dev/null
    wait "$attach_pid" 2>/dev/null
    sleep 0.2
    if ! kill -0 "$server_pid" 2>/dev/null || ! pings "$port"; then
        fail "attach killed after ${delay}s: the server stopped answering"
        break
    fi
    # A recording left running by a killed attach is ended by --detach.
    "$stallscope" attach --detach "$server_pid" >/dev/null 2>&1
done
pings "$port" || fail "the server stopped answering after the killed attaches"
kill -TERM "$server_pid"
wait "$server_pid"
status=$?
[ "$status" -eq 0 ] || fail "the server exited with $status after the killed attaches"
[ ! -s "$tmp/killed.err" ] || { fail "the server wrote errors:"; cat "$tmp/killed.err"; }
ok "attach killed 10 times at moments through the injection: the server went on"

[ "$failures" -eq 0 ] || exit 1
echo "PASS: attach refuses what it must, and survives what it must"
