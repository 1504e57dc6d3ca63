#!/bin/sh
# Runtime test: a stall names the asyncio Task it ran. For every CPython 3.8 or later found
# (python3.X on PATH, the versions of pyenv, the system's python3), an asyncio program stalls
# on CPU in a task named "planted-worker" (after an await: its wakeup) and in one with the
# default name (in its first step); each stall must name its task and coroutine in `export
# --format json`, in `report` and in the viewer's stall detail, and no stall may name the task
# that only sleeps. Interpreters that are absent are skipped with a message; the test skips
# when none is found, and the viewer's part when tmux is not installed.
# Exit status follows the automake test driver: 0 pass, 1 fail, 77 skip, 99 harness error.

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
runtime_setup python3 tests/fixtures/python/tasks.py

pythons_found "$tmp/pythons"
[ -s "$tmp/pythons" ] || { echo "SKIP: no CPython 3.8 or later"; exit 77; }

viewer=yes
if ! command -v tmux >/dev/null 2>&1; then
    echo "SKIP: the viewer's part: tmux not installed (Debian package tmux)"
    viewer=
elif [ ! -x "$SS_BUILDDIR/stallscope-view" ]; then
    echo "SKIP: the viewer's part: no stallscope-view built"
    viewer=
fi
# Not the list of interpreters the loop below reads as its input.
tm() {
    tmux -S "$tmp/tmux.sock" -f /dev/null "$@" </dev/null
}
cleanup() {
    [ -z "$viewer" ] || tm kill-server >/dev/null 2>&1 || true
    drop_tmp_maps
    rm -rf "$tmp"
}

# screen_shows PATTERN WHAT: waits up to 30 s for the viewer's screen to have a line matching
# PATTERN; says what did not show, with the screen, and returns 1 otherwise.
screen_shows() {
    waited=0
    until tm capture-pane -p -t v | grep -Eq "$1"; do
        tm has-session -t v 2>/dev/null || { echo "viewer: its terminal is gone"; return 1; }
        [ "$waited" -lt 300 ] || {
            echo "viewer: $2:"
            tm capture-pane -p -t v
            return 1
        }
        sleep 0.1
        waited=$((waited + 1))
    done
}

# viewer_tasks RUN NSTALLS: the task line of each stall's detail in the viewer, one a line.
viewer_tasks() {
    tm kill-server >/dev/null 2>&1 || true
    tm new-session -d -s v -x 160 -y 50 "LC_ALL=C '$stallscope' view --ascii '$1'; sleep 3600"
    screen_shows 'finished$' "the run is not shown" || return 1
    i=0
    while [ "$i" -lt "$2" ]; do
        tm send-keys -t v Enter
        screen_shows '^ Stall of ' "no detail of stall $i on its screen" || return 1
        tm capture-pane -p -t v | grep -E '^ +task ' || echo "(stall $i: no task line)"
        tm send-keys -t v Escape
        screen_shows '^TIME' "the list did not come back" || return 1
        tm send-keys -t v Down
        i=$((i + 1))
    done
    tm kill-server >/dev/null 2>&1 || true
}

check_run() { # PYTHON JSON REPORT OUT VIEWER-LINES
    python3 - "$@" <<'PY'
import json
import re
import sys

python, json_path, report_path, out_path, viewer_path = sys.argv[1:6]
planted = []
with open(out_path) as f:
    for line in f:
        m = re.fullmatch(r"planted (\S+) (\S+)\n?", line)
        if m:
            planted.append((m[1], m[2]))
problems = []
if [c for _, c in planted] != ["named_worker", "default_worker"] or \
        planted[0][0] != "planted-worker" or not re.fullmatch(r"Task-[0-9]+", planted[1][0]):
    problems.append(f"the fixture planted {planted}")
with open(json_path) as f:
    run = json.load(f)
procs = [p for p in run["processes"] if "tasks.py" in p["command"]]
if len(procs) != 1:
    problems.append(f"{len(procs)} traces of the fixture")
    procs = [{"stalls": []}]
tasks = [s["task"] for s in procs[0]["stalls"]]
for name, coroutine in planted:
    if {"name": name, "coroutine": coroutine} not in tasks:
        problems.append(f"json: no stall names task {name} running {coroutine}; seen {tasks}")
for t in tasks:
    if t is not None and (t["name"], t["coroutine"]) not in planted:
        problems.append(f"json: a stall names a task that did not stall: {t}")
with open(report_path) as f:
    report = f.read()
for name, coroutine in planted:
    if f"       asyncio task {name}, coroutine {coroutine}\n" not in report:
        problems.append(f"report: no 'asyncio task {name}, coroutine {coroutine}'")
if "idle-bystander" in report:
    problems.append("report: names the task that only slept")
if viewer_path != "-":
    with open(viewer_path) as f:
        seen = f.read()
    for name, coroutine in planted:
        if not re.search(rf"^ +task +{re.escape(name)}, coroutine {coroutine}$", seen, re.M):
            problems.append(f"viewer: no stall detail with task {name}, coroutine {coroutine}; "
                            f"saw:\n{seen}")
for p in problems:
    print(f"{python}: {p}")
sys.exit(1 if problems else 0)
PY
}

failures=0
while read -r python; do
    trace_python "$python" || {
        failures=$((failures + 1))
        continue
    }
    "$stallscope" export --format json -o "$tmp/run.json" "$tmp/run" &&
        "$stallscope" report "$tmp/run" >"$tmp/report" || fail "$python: export or report failed"
    seen=-
    if [ -n "$viewer" ]; then
        seen=$tmp/viewer
        nstalls=$(python3 -c 'import json, sys
print(sum(len(p["stalls"]) for p in json.load(open(sys.argv[1]))["processes"]))' "$tmp/run.json")
        viewer_tasks "$tmp/run" "$nstalls" >"$seen"
    fi
    if check_run "$python" "$tmp/run.json" "$tmp/report" "$tmp/out" "$seen"; then
        echo "ok: $python"
    else
        failures=$((failures + 1))
        sed -n '/^ *#1 /,/^ *#3 /p' "$tmp/report" | head -60
    fi
done <"$tmp/pythons"
[ "$failures" -eq 0 ] || fail "$failures interpreters did not name their stalls' tasks"
exit 0
