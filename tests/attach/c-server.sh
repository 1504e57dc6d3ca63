#!/bin/sh
# stallscope attach on a C epoll server started without the shim, under a steady load of pings
# on four connections: attached twice, for 6 s each, with a library loaded with dlopen (SIGHUP,
# the first time while attached), a stall planted (SIGUSR1: a 150 ms sleep, 150 ms on the CPU,
# then the library's 100 ms usleep), a child forked and reaped (SIGUSR2) and a worker forked
# that loops on its own for 8 s (SIGWINCH: attach must detach it too) during each. While
# attached, GOT entries of the server and of the library lead to the shim; each run holds the
# stall with the planted functions in its stacks and both sleeps as blocking calls; after each
# detach, every GOT entry of every module is what it was before the attach, and none leads to
# the shim. The load sees no failure, and the server's own output, error output and
# exit status are those of a server never attached (its loop reports any EINTR that is not
# one of its own signals).
# shellcheck source=../lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"
skip_unless python3
skip_unless readelf
server=$SS_BUILDDIR/tests/fixtures/attach-server
need_built "$stallscope" "$server"
scratch
cleanup() {
    kill "$client_pid" "$server_pid" 2>/dev/null
    rm -rf "$tmp"
}
here=$SS_SRCDIR/tests/attach

"$server" "$SS_BUILDDIR/tests/fixtures/libattach-plugin.so" >"$tmp/server.out" 2>"$tmp/server.err" &
server_pid=$!
for _ in $(seq 100); do
    port=$(sed -n 's/^listening //p' "$tmp/server.out")
    [ -n "$port" ] && break
    sleep 0.1
done
[ -n "$port" ] || { echo "FAIL: the server did not start"; exit 1; }
python3 "$here/client.py" 127.0.0.1 "$port" 4 >"$tmp/client.out" &
client_pid=$!

# Round 1 loads the plugin while attached: the monitor sees the new module and the shim
# redirects its calls too. Round 2 finds it loaded.
for round in 1 2; do
    run=$tmp/run$round
    python3 "$here/got.py" "$server_pid" >"$tmp/got.before$round" ||
        { echo "FAIL: cannot read the GOT"; exit 1; }
    grep -q " shim$" "$tmp/got.before$round" &&
        fail "round $round: GOT entries still lead to the shim before the attach"
    "$stallscope" attach -o "$run" --duration 6s "$server_pid" 2>"$tmp/attach$round.err" &
    attach_pid=$!
    for _ in $(seq 100); do
        grep -q "attached to process" "$tmp/attach$round.err" && break
        sleep 0.1
    done
    kill -HUP "$server_pid"
    # Modules are looked for once a flush interval (1 s by default).
    for _ in $(seq 40); do
        python3 "$here/got.py" "$server_pid" >"$tmp/got.during$round"
        grep -q "/libattach-plugin.so .* shim$" "$tmp/got.during$round" && break
        sleep 0.1
    done
    for module in attach-server libattach-plugin.so; do
        grep -q "/$module .* shim$" "$tmp/got.during$round" ||
            fail "round $round: no GOT entry of $module leads to the shim while attached"
    done
    kill -USR1 "$server_pid"
    sleep 0.6
    kill -USR2 "$server_pid"
    kill -WINCH "$server_pid"
    wait "$attach_pid"
    status=$?
    if [ "$status" -ne 0 ]; then
        fail "round $round: attach exited with $status"
        cat "$tmp/attach$round.err"
        continue
    fi
    grep -q "detached from process $server_pid" "$tmp/attach$round.err" ||
        fail "round $round: attach did not say it detached"
    # The worker forked while attached inherited the redirected entries: it is detached too.
    worker=$(sed -n 's/^worker //p' "$tmp/server.out" | tail -1)
    if [ -z "$worker" ]; then
        fail "round $round: no worker was forked"
    elif ! grep -q "detached from process $worker, forked by $server_pid" "$tmp/attach$round.err"; then
        fail "round $round: the worker forked while attached was not detached: $(cat "$tmp/attach$round.err")"
    elif kill -0 "$worker" 2>/dev/null && python3 "$here/got.py" "$worker" | grep -q " shim$"; then
        fail "round $round: the worker's GOT still leads to the shim after the detach"
    fi
    "$stallscope" report --depth 16 "$run" >"$tmp/report$round" 2>&1 || fail "round $round: report failed"
    for planted in planted_attach_spin planted_attach_sleep attach_plugin_sleep; do
        grep -q "$planted" "$tmp/report$round" || fail "round $round: no $planted in the report"
    done
    grep -Eq "(clock_)?nanosleep.*sleep" "$tmp/report$round" ||
        fail "round $round: the planted sleep is not a blocking call"
    grep -Eq "usleep\(\) x1 " "$tmp/report$round" ||
        fail "round $round: the plugin's sleep is not a blocking call"
    python3 "$here/got.py" "$server_pid" >"$tmp/got.after$round"
    if python3 "$here/got.py" --compare "$tmp/got.before$round" "$tmp/got.after$round" >"$tmp/got.diff" &&
        ! grep -q " shim$" "$tmp/got.after$round"; then
        ok "round $round: the stall was recorded and every GOT entry is back"
    else
        fail "round $round: GOT entries differ after the detach:"
        cat "$tmp/got.diff"
        grep " shim$" "$tmp/got.after$round" | head -5
    fi
done

kill -TERM "$client_pid"
wait "$client_pid"
read -r _ answered _ failed <"$tmp/client.out"
if [ "${failed:-1}" -ne 0 ] || [ "${answered:-0}" -eq 0 ]; then
    fail "the load saw failures: $(cat "$tmp/client.out")"
fi
kill -TERM "$server_pid"
wait "$server_pid"
status=$?
[ "$status" -eq 0 ] || fail "the server exited with $status"
[ ! -s "$tmp/server.err" ] || { fail "the server wrote errors:"; cat "$tmp/server.err"; }
grep -Eq "^served [0-9]+, stalls 2, forks 2$" "$tmp/server.out" ||
    fail "the server's output: $(cat "$tmp/server.out")"
[ "$(grep -vc '^worker ' "$tmp/server.out")" -eq 2 ] || fail "the server printed more than its lines"
[ "$failures" -eq 0 ] || { cat "$tmp/report1"; exit 1; }
echo "PASS: attached twice under load ($answered answers), recorded, put back"
