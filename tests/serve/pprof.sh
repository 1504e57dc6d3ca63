#!/bin/sh
# /debug/pprof/stalls?seconds=N, read by go tool pprof: while the C fixture stalls in a spin
# forty times, a profile of one second names plant_spin and counts some of its stalls but not
# all (the window holds only those that began in it). A bad `seconds` is a 400; serve stopped
# while a profile waits stops at once, and its status is 0.
# Exit status follows the automake test driver: 0 pass, 1 fail, 77 skip, 99 harness error.
# shellcheck source=../lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"
# shellcheck source=lib.sh
. "$SS_SRCDIR/tests/serve/lib.sh"
fixture=$SS_BUILDDIR/tests/fixtures/loop-fixture-O2
need_built "$stallscope" "$fixture"
skip_unless python3
if ! command -v go >/dev/null 2>&1; then
    echo "SKIP: go (golang-go) not installed"
    exit 77
fi
scratch
cleanup() {
    [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null
    [ -n "$run_pid" ] && kill "$run_pid" 2>/dev/null
    rm -rf "$tmp"
}
HOME=$tmp/home GOCACHE=$tmp/go-cache GOPATH=$tmp/go-path
export HOME GOCACHE GOPATH
mkdir -p "$HOME" || exit 99
mkdir -m 700 "$tmp/run"
start_serve "$tmp/run"

for bad in 0 abc 3601 -1; do
    python3 "$fetch_py" "$url/debug/pprof/stalls?seconds=$bad" >/dev/null 2>"$tmp/bad.err"
    grep -q 400 "$tmp/bad.err" || fail "seconds=$bad: not a 400: $(cat "$tmp/bad.err")"
done

# About 40 x 100 ms of stalls, over four seconds or more; the window is the second second.
"$stallscope" run -q -o "$tmp/run" --threshold 20ms -- "$fixture" --spin 80 --repeat 40 \
    >"$tmp/out" 2>"$tmp/err" &
run_pid=$!
sleep 1
get "/debug/pprof/stalls?seconds=1" "$tmp/window.pb.gz" || fail "the profile was not served"
wait "$run_pid" || fail "the fixture failed under run: $(cat "$tmp/err")"
run_pid=
go tool pprof -top -sample_index=stalls -nodefraction=0 "$tmp/window.pb.gz" >"$tmp/top" \
    2>"$tmp/top.err" || fail "go tool pprof cannot read the profile: $(cat "$tmp/top.err")"
grep -q 'plant_spin' "$tmp/top" || fail "the profile does not name plant_spin: $(cat "$tmp/top")"
in_window=$(sed -n 's/.*Total samples = \([0-9]*\).*/\1/p' "$tmp/top")
"$stallscope" export --format json -o "$tmp/run.json" "$tmp/run" || fail "export json"
all=$(python3 -c 'import json, sys
print(sum(len(p["stalls"]) for p in json.load(open(sys.argv[1]))["processes"]))' "$tmp/run.json")
if [ "${in_window:-0}" -ge 1 ] && [ "$in_window" -lt "$all" ]; then
    ok "$in_window of the run's $all stalls began in the one-second window"
else
    fail "${in_window:-no} stalls in the window, of $all in the run"
fi

# Stopping while a profile waits a minute: serve ends at once, cleanly.
python3 "$fetch_py" "$url/debug/pprof/stalls?seconds=60" >/dev/null 2>&1 &
waiting=$!
sleep 0.5
start=$(date +%s)
stop_serve
serve_pid=
wait "$waiting"
[ $(($(date +%s) - start)) -lt 10 ] || fail "serve took more than 10 s to stop while a profile waited"
[ "$failures" -eq 0 ]
