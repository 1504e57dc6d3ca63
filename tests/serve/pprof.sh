#!/bin/sh
# /debug/pprof/stalls?seconds=N, read by go tool pprof: while the C fixture stalls in a spin
# forty times, a profile of eight seconds asked just before it starts counts every one of its
# stalls, those at the end of the window too; one of a second asked meanwhile names plant_spin
# and counts some of them but not all (the window holds only those that began in it); a third
# at the same time is refused (429). A bad `seconds` is a 400; serve stopped while a profile
# waits stops at once, and its status is 0.
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

# The windows lie 2 s behind the clock: the long one from 2 s before the fixture starts to 6 s
# after, past its last stall (40 x about 100 ms).
get "/debug/pprof/stalls?seconds=8" "$tmp/all.pb.gz" 2>"$tmp/all.err" &
long=$!
sleep 0.2
"$stallscope" run -q -o "$tmp/run" --threshold 20ms -- "$fixture" --spin 80 --repeat 40 \
    >"$tmp/out" 2>"$tmp/err" &
run_pid=$!
sleep 3
get "/debug/pprof/stalls?seconds=1" "$tmp/window.pb.gz" 2>"$tmp/window.err" &
short=$!
sleep 0.3
python3 "$fetch_py" "$url/debug/pprof/stalls?seconds=1" >/dev/null 2>"$tmp/third.err"
grep -q 429 "$tmp/third.err" || fail "a third profile at once is not refused: $(cat "$tmp/third.err")"
wait "$short" || fail "the one-second profile was not served: $(cat "$tmp/window.err")"
wait "$run_pid" || fail "the fixture failed under run: $(cat "$tmp/err")"
run_pid=
wait "$long" || fail "the eight-second profile was not served: $(cat "$tmp/all.err")"

# stalls_in FILE: the stalls a profile counts, as go tool pprof sums them.
stalls_in() {
    go tool pprof -top -sample_index=stalls -nodefraction=0 "$1" >"$1.top" 2>"$1.err" ||
        { fail "go tool pprof cannot read $(basename "$1"): $(cat "$1.err")"; return; }
    sed -n 's/.*Total samples = \([0-9]*\).*/\1/p' "$1.top"
}
in_window=$(stalls_in "$tmp/window.pb.gz")
in_all=$(stalls_in "$tmp/all.pb.gz")
grep -q 'plant_spin' "$tmp/window.pb.gz.top" ||
    fail "the profile does not name plant_spin: $(cat "$tmp/window.pb.gz.top")"
"$stallscope" export --format json -o "$tmp/run.json" "$tmp/run" || fail "export json"
all=$(python3 -c 'import json, sys
print(sum(1 for p in json.load(open(sys.argv[1]))["processes"] for s in p["stalls"] if s["samples"]))' "$tmp/run.json")
if [ "${in_window:-0}" -ge 1 ] && [ "$in_window" -lt "$all" ]; then
    ok "$in_window of the run's $all stalls began in the one-second window"
else
    fail "${in_window:-no} stalls in the one-second window, of $all in the run"
fi
[ "${in_all:-0}" -eq "$all" ] && ok "the eight-second window has all $all" ||
    fail "${in_all:-no} stalls in the eight-second window, of $all in the run"

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
