#!/bin/sh
# Runtime test: blocking calls in Python asyncio. A file read, time.sleep, getaddrinfo and
# subprocess.run made in a coroutine must each be recorded on the loop thread in their
# category, with a stack that names the Python function that made it (with its file and a line
# inside it) and the coroutine that called that function; the same calls through
# asyncio.to_thread run on a worker thread and must not be recorded. The calls on the loop
# thread are checked with every CPython 3.8 or later found (lib.sh pythons_found), the worker
# thread with python3 (asyncio.to_thread is 3.9's). With python3 also "late": the first call of
# each site is made while the monitor is stopped, before it knows where the thread's Python
# frames are, and the site's stack must still name them.
# Exit status follows the automake test driver: 0 pass, 1 fail, 77 skip, 99 harness error.

# shellcheck source=../lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"
fixture=$SS_SRCDIR/tests/fixtures/python/calls.py
SCENARIOS="read sleep getaddrinfo subprocess"

skip_unless python3
need_built "$stallscope" "$fixture"

# A short directory: a call site's detail keeps only the first 47 bytes of a path.
tmp=$(mktemp -d /tmp/ss-py-XXXXXX) || exit 99
trap 'rm -rf "$tmp"' EXIT
trap 'exit 99' HUP INT TERM

fail() {
    echo "FAIL: $*"
    for dir in "$tmp"/*/; do
        [ -d "$dir/run" ] || continue
        echo "--- stallscope report ($(cat "$dir/python"))"
        "$stallscope" report "$dir/run" 2>&1
    done
    exit 1
}

# trace DIR PYTHON MODE: runs the fixture with PYTHON in MODE into DIR.
trace() {
    mkdir "$1" || exit 99
    echo "$2 $3" >"$1/python"
    # shellcheck disable=SC2086
    "$stallscope" run -q -o "$1/run" -- "$2" "$fixture" "$1" "$3" $SCENARIOS >"$1/out" \
        2>"$1/err" || fail "$2 ($3) failed under stallscope: $(cat "$1/err")"
    "$stallscope" export --format json -o "$1/run.json" "$1/run" || fail "export failed"
}

pythons_found "$tmp/pythons"
n=0
while read -r python; do
    n=$((n + 1))
    trace "$tmp/direct-$n" "$python" direct
done <"$tmp/pythons"
trace "$tmp/late" python3 late
trace "$tmp/thread" python3 thread

python3 - "$tmp" "$SCENARIOS" "$fixture" <<'EOF' || fail "the trace does not show the calls on the right thread"
import json
import os
import re
import sys

tmp, scenarios, fixture = sys.argv[1], sys.argv[2].split(), sys.argv[3]

# Python 3.11 native stacks name the interpreter, not the Python functions, so a scenario is
# recognised by the call the shim caught, its category and its target. The fixture imports
# what it would otherwise import during the loop, so the first file call of the loop is the
# scenario's and its path is the file site's detail.
EXPECTED = {
    "read": ("file", r"^p?read(64)?$", r"/data\.txt$"),
    # Before 3.11 time.sleep is a select() of no descriptor.
    "sleep": ("sleep", r"^(clock_)?nanosleep$|^u?sleep$|^select$", None),
    "getaddrinfo": ("dns", r"^getaddrinfo$", r"^localhost$"),
    "subprocess": ("process", r"^wait(pid|3|4|id)?$", None),
}
# The fixture's function that makes each call, and its lines.
PLANTED = {"read": "read_file", "sleep": "sleep", "getaddrinfo": "lookup", "subprocess": "run_true"}
with open(fixture) as f:
    source = f.read().splitlines()
starts = {re.match(r"def (\w+)", line)[1]: i + 1 for i, line in enumerate(source)
          if re.match(r"def (\w+)", line)}


def names_planted(site, scenario):
    """The site's stack reads the planted function, then main, the coroutine that called it,
    each at a line of its own body."""
    own = [(f["symbol"], f["line"]) for f in site["frames"]
           if f["kind"] == "interpreter" and f["file"] and f["file"].endswith("calls.py")]
    names = [n.split(".")[-1] for n, _ in own]
    want = PLANTED[scenario]
    if want not in names or "main" not in names[names.index(want):]:
        return False
    line = own[names.index(want)][1]
    following = [v for v in starts.values() if v > starts[want]]
    return starts[want] <= line < min(following, default=len(source) + 1)

problems = []


def expect(ok, what):
    if not ok:
        problems.append(what)


def loop_sites(directory):
    with open(f"{tmp}/{directory}/python") as f:
        mode = f.read().strip()
    with open(f"{tmp}/{directory}/out") as f:
        out = f.read()
    for s in scenarios:
        expect(f"ran {s} 3" in out, f"{mode}: {s} did not run three times")
    with open(f"{tmp}/{directory}/run.json") as f:
        run = json.load(f)
    procs = [p for p in run["processes"] if "calls.py" in p["command"]]
    expect(len(procs) == 1, f"{mode}: expected one python3 process, got {len(procs)}")
    sites = [c for p in procs for c in p["calls"]]
    # asyncio runs on the main thread, whose tid is the pid: the only loop thread there is.
    for c in sites:
        expect(any(c["tid"] == p["pid"] for p in procs),
               f"{mode}: {c['function']}() recorded off the loop thread, on {c['tid']}")
    return mode, sites


def matching(sites, scenario):
    category, function, detail = EXPECTED[scenario]
    return [c for c in sites
            if c["category"] == category and re.search(function, c["function"])
            and (detail is None or re.search(detail, c["detail"]))]


for directory in sorted(os.listdir(tmp)):
    if not directory.startswith("direct-") and directory != "late":
        continue
    mode, direct = loop_sites(directory)
    for s in scenarios:
        found = matching(direct, s)
        expect(found, f"{mode}: no {EXPECTED[s][0]} call site for {s}")
        # A site adds up every call made from one place: the interpreter's reads share one.
        expect(sum(c["count"] for c in found) >= 3, f"{mode}: {s} counted fewer than 3 times")
        expect(all(c["frames"] for c in found), f"{mode}: a {s} call site has no stack")
        expect(any(names_planted(c, s) for c in found),
               f"{mode}: no {s} call site's stack names {PLANTED[s]} in calls.py, called from "
               "main: " + str([[(f["symbol"], f["line"]) for f in c["frames"]
                                if f["kind"] == "interpreter"] for c in found]))

mode, thread = loop_sites("thread")
for s in scenarios:
    expect(not matching(thread, s), f"{mode}: {s} recorded on the loop thread")
for c in thread:
    expect(c["category"] not in ("sleep", "dns", "process"),
           f"{mode}: {c['category']} call {c['function']}() on the loop thread")

for p in problems:
    print(p)
sys.exit(1 if problems else 0)
EOF
