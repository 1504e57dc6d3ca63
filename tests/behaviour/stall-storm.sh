#!/bin/sh
# Production mode under a storm: a loop whose 1,000,000 iterations each spin 20 us, every one
# a stall over a 10 us threshold, traced with --max-size 10M. The trace files never hold more
# than their budget, and the report counts every stall: those kept (in detail or summarised),
# those in files rotation deleted, and those whose end the monitor could not take in time; and
# each thread's stall ends are written in order, which the reader relies on.
# Exit status follows the automake test driver: 0 pass, 1 fail, 77 skip, 99 harness error.
# shellcheck source=../lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"
fixture=$SS_BUILDDIR/tests/fixtures/stall-storm
need_built "$stallscope" "$fixture"
scratch
count=1000000
budget=$((10 * 1024 * 1024))

# The most bytes the trace files held at once while the run went on.
watch_run() {
    most=0
    while [ ! -e "$tmp/done" ]; do
        total=$(find "$tmp/run" -name 'stallscope-*.trace' -printf '%s\n' 2>/dev/null |
            awk '{ n += $1 } END { print n + 0 }')
        [ "$total" -gt "$most" ] && most=$total
        sleep 0.1
    done
    echo "$most" >"$tmp/watched"
}
mkdir "$tmp/run"
watch_run &
# At the lowest priority: the storm keeps both its loop and the monitor busy for a minute, and
# the tests that run beside it time what they see. Slower, it only loses more stall ends,
# which it must count all the same.
watcher=$!
nice -n 19 "$stallscope" run -q -o "$tmp/run" --max-size 10M --threshold 10us \
    -- "$fixture" "$count" 20 >"$tmp/out" 2>"$tmp/err"
rc=$?
touch "$tmp/done"
wait "$watcher"
[ "$rc" -eq 0 ] || { echo "FAIL: the run failed: $(cat "$tmp/out" "$tmp/err")"; exit 1; }
most=$(cat "$tmp/watched")
final=$(find "$tmp/run" -name 'stallscope-*.trace' -printf '%s\n' | awk '{ n += $1 } END { print n }')
# A file passes its share by at most what one look of the monitor writes.
[ "$most" -le $((budget + budget / 10)) ] && [ "$final" -le $((budget + budget / 10)) ] ||
    fail "the trace held $most bytes at most while running, $final at the end: over 10M"
ok "the trace held $most bytes at most while running, $final at the end"

# The loader takes a thread's stall ends to come in the order of their starts (one that comes
# after a later one's end was lost): a lost end closed after a later end was written is read
# as a second stall.
python3 - "$tmp/run" <<'PY' || fail "a stall's end was written after a later one's"
import glob, re, struct, sys
STALL_END = 7
# stallscope-PID.trace, then stallscope-PID.1.trace, .2, ...
def number(path):
    m = re.search(r"\.(\d+)\.trace$", path)
    return int(m[1]) if m else 0
files = sorted(glob.glob(sys.argv[1] + "/stallscope-*.trace"), key=number)
latest, late = {}, []
for path in files:
    data, off = open(path, "rb").read(), 16
    while off + 8 <= len(data):
        tag, _, size = struct.unpack_from("<HHI", data, off)
        if tag == STALL_END:
            tid, _, start = struct.unpack_from("<IIQ", data, off + 8)
            if start < latest.get(tid, 0):
                late.append((start, latest[tid]))
            latest[tid] = max(start, latest.get(tid, 0))
        off += 8 + size
assert not late, f"{len(late)} stall ends after a later one's, the first at {late[0]}"
print("ok: every thread's stall ends are in order")
PY
"$stallscope" report "$tmp/run" >"$tmp/report" 2>&1 || fail "report failed: $(head "$tmp/report")"
python3 - "$tmp/report" "$count" <<'PY' || fail "the report does not count every stall"
import re, sys
report, count = open(sys.argv[1]).read(), int(sys.argv[2])
threads = re.findall(r"^    \d+\s+stall-storm\s+(\d+)\s", report, re.M)
assert len(threads) == 1, "no single loop thread in the report"
iterations = int(threads[0])
# The first wait begins the loop, the last one's return ends in exit: count - 1 iterations.
assert iterations == count - 1, f"{iterations} iterations, not {count - 1}"
m = re.search(r"^  stalls: (\d+) \(worst \d+ shown((?:; \d+ more [^;)]*)*)\)", report, re.M)
assert m, "no stall count"
kept = int(m[1])
deleted = sum(int(n) for n in re.findall(r"; (\d+) more in trace files deleted", m[2]))
lost = sum(int(n) for n in re.findall(r"; (\d+) more lost", m[2]))
assert kept + deleted + lost == iterations, \
    f"{kept} kept + {deleted} deleted + {lost} lost = {kept + deleted + lost}, not {iterations}"
print(f"ok: {kept} stalls kept, {deleted} in deleted files, {lost} lost: all {iterations}")
PY
# The file that began the loop is long deleted: the loop is known from the files kept.
"$stallscope" export --format json "$tmp/run" >"$tmp/run.json" 2>&1 || fail "export failed"
python3 - "$tmp/run.json" <<'PY' || fail "the loop is not known after rotation"
import json, sys
loops = json.load(open(sys.argv[1]))["processes"][0]["loops"]
assert [(l["kind"], l["begin_ns"] > 0) for l in loops] == [("epoll", True)], loops
print("ok: the epoll loop is known, with its beginning, after rotation")
PY
[ "$failures" -eq 0 ]
