#!/bin/sh
# Runtime test: Python functions named from CPython's own frames. For every CPython 3.8 or
# later found (python3.X on PATH, the versions of pyenv, the system's python3), an asyncio
# server (tests/fixtures/python/frames.py) stalls its handler in nine ways: a Python loop three
# functions deep, time.sleep, hashlib.pbkdf2_hmac, sorted() calling a Python key function,
# reads of a regular file, subprocess.run waiting for its child, sum() consuming a spinning
# generator, three coroutines awaiting each other, and a function compiled at run time that is
# freed, its memory taken by other code objects, before its stall ends. Each stall's stack, in
# `export --format json` with all frames and with --frames user, and in `report`, must name the
# planted functions with their file and a line inside them, innermost first, and never a
# function of the program's other thread nor a code object that never ran. The sleep, the read
# and the child's wait must be named in a sample of that call (clock_nanosleep, or select()
# before 3.11; read; waitpid); the generator's frame must sit above the native frames of sum()
# that call it. No stack has a perf trampoline (3.12 and later make them only when asked, and
# run does not ask). With --no-python-frames, no Python frame. Interpreters that are absent are
# skipped with a message; the test skips when none is found.
# Exit status follows the automake test driver: 0 pass, 1 fail, 77 skip, 99 harness error.

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
runtime_setup python3 tests/fixtures/python/frames.py

pythons_found "$tmp/pythons"
[ -s "$tmp/pythons" ] || { echo "SKIP: no CPython 3.8 or later"; exit 77; }

check_run() { # PYTHON JSON_ALL JSON_USER REPORT OUT
    python3 - "$@" "$fixture" <<'PY'
import ast
import json
import re
import sys

python, json_all, json_user, report_path, out_path, fixture = sys.argv[1:7]
minor = int(re.search(r"python3\.([0-9]+)$", python)[1]) if re.search(r"python3\.([0-9]+)$", python) else 99
with open(fixture) as f:
    tree = ast.parse(f.read())


def bodies(tree):
    """Each function's first and last line."""
    return {n.name: (n.lineno, max(getattr(x, "end_lineno", x.lineno) for x in ast.walk(n)
                                   if hasattr(x, "lineno")))
            for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}


body = bodies(tree)
# The freed function is compiled from the fixture's text, under its own file name and line.
constants = {t.id: ast.literal_eval(n.value) for n in tree.body if isinstance(n, ast.Assign)
             for t in n.targets if isinstance(t, ast.Name) and t.id.startswith("FREED_")}
freed_file = constants["FREED_FILE"]
body.update(bodies(ast.parse("\n" * (constants["FREED_LINE"] - 1) + constants["FREED_SOURCE"])))
file_of = {"planted_freed": freed_file}
expected = {
    "cpu": ["plant_cpu_inner", "plant_cpu_middle", "plant_cpu_outer", "handle"],
    "sleep": ["plant_sleep", "handle"],
    "pbkdf2": ["plant_pbkdf2", "handle"],
    "sorted": ["sort_key", "plant_sorted", "handle"],
    "read": ["plant_read", "handle"],
    "subprocess": ["plant_subprocess", "handle"],
    "generator": ["gen_values", "plant_generator", "handle"],
    "coroutine": ["plant_coro_inner", "plant_coro_middle", "plant_coro_outer", "handle"],
    "freed": ["planted_freed", "plant_freed", "handle"],
}
# A blocking call's plant must be named in a sample of that call: taken inside it, from the
# registers the shim published at its start, or copied by the shim with the Python frames when
# it returned. time.sleep waits in select() before 3.11, whose samples taken inside are not
# unwound: the copy at its return names it there.
inside = {"sleep": ("clock_nanosleep", "nanosleep", "select"), "read": ("read",),
          "subprocess": ("waitpid", "wait4", "waitid")}
# sum() is C calling back into Python: the generator's frame is above sum's native frames,
# which --frames user hides.
native_between = {"generator": ("gen_values", "plant_generator")}
planted = []
with open(out_path) as f:
    for line in f:
        m = re.fullmatch(r"planted (\S+) ([0-9.]+) ([0-9]+)\n?", line)
        if m:
            planted.append((m[1], float(m[2])))
        m = re.fullmatch(r"freed-reused ([0-9]+)\n?", line)
        if m and int(m[1]) == 0:
            # Still checked: the freed function must be named all the same.
            print(f"{python}: note: 3.{minor}: no code object made after the freed one took "
                  "its memory")
problems = []


def program_frames(frames):
    """The fixture's Python frames, innermost first."""
    return [(f["symbol"], f["line"]) for f in frames
            if f["kind"] == "interpreter" and f["file"] == file_of.get(f["symbol"], fixture)]


def has_native_between(frames, inner, outer):
    names = [f["symbol"] if f["kind"] == "interpreter" else None for f in frames]
    if inner not in names or outer not in names[names.index(inner):]:
        return False
    i = names.index(inner)
    return None in names[i + 1:names.index(outer, i)]


def check(json_path, how):
    with open(json_path) as f:
        run = json.load(f)
    procs = [p for p in run["processes"] if "frames.py" in p["command"]]
    if len(procs) != 1:
        problems.append(f"{how}: {len(procs)} traces of the fixture")
        return
    stalls = sorted(procs[0]["stalls"], key=lambda s: s["start_ns"])
    for name, ms in planted:
        want = expected[name]
        # The plant's stall: a sample in its innermost function under the function the handler
        # called (the fixture calls sort_key outside a handler too, to size its plant).
        found = [s for s in stalls
                 if any(fr[:1] and fr[0][0] == want[0] and want[-2] in [n for n, _ in fr]
                        for fr in (program_frames(x["frames"]) for x in s["samples"]))]
        if not found:
            problems.append(f"{how}: no stall has a sample in {want[0]} under {want[-2]}")
            continue
        samples = [(x, program_frames(x["frames"])) for x in found[0]["samples"]]
        samples = [(x, st) for x, st in samples if st]
        stacks = [st for _, st in samples]
        good = [x for x, st in samples if [n for n, _ in st[:len(want)]] == want and
                all(body[n][0] <= line <= body[n][1] for n, line in st[:len(want)])]
        if not good:
            problems.append(f"{how}: {name}: no sample reads {' <- '.join(want)}; "
                            f"seen {stacks[:3]}")
        elif name in inside and not any(x["call"] in inside[name] for x in good):
            problems.append(f"{how}: {name}: no sample taken inside {'/'.join(inside[name])} "
                            f"reads {' <- '.join(want)}; calls of those that do: "
                            f"{sorted({str(x['call']) for x in good})}")
        elif name in native_between and how == "all frames" and not any(
                has_native_between(x["frames"], *native_between[name]) for x in good):
            problems.append(f"{how}: {name}: no sample has native frames between "
                            f"{' and '.join(native_between[name])}")
        trampolines = [f["symbol"] for x in found[0]["samples"] for f in x["frames"]
                       if (f["symbol"] or "").startswith("py::")]
        if trampolines:
            problems.append(f"{how}: {name}: perf trampolines, which run must not turn on: "
                            f"{trampolines[:3]}")
        for st in stacks:
            if any(n == "other_thread_spin" for n, _ in st):
                problems.append(f"{how}: {name}: the other thread's frames are in {st}")
                break
    # The code objects made after the freed function are never run: no stack may name them.
    churned = {f["symbol"] for s in stalls for x in s["samples"] for f in x["frames"]
               if (f["symbol"] or "").startswith("churned_")}
    if churned:
        problems.append(f"{how}: freed: stacks name code objects never run: {sorted(churned)[:3]}")


check(json_all, "all frames")
check(json_user, "--frames user")
with open(report_path) as f:
    report = f.read()
for name in [want[0] for want in expected.values()]:
    file = file_of.get(name, "frames.py")
    if not re.search(rf"{name}\s+{re.escape(file)}:[0-9]+", report):
        problems.append(f"report: no '{name} ... {file}:LINE'")
if sorted(name for name, _ in planted) != sorted(expected):
    problems.append(f"the fixture planted {[name for name, _ in planted]}, not {list(expected)}")
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
    "$stallscope" export --format json -o "$tmp/all.json" "$tmp/run" &&
        "$stallscope" export --format json --frames user -o "$tmp/user.json" "$tmp/run" &&
        "$stallscope" report --top 20 --depth 64 "$tmp/run" >"$tmp/report" ||
        fail "$python: export or report failed"
    if check_run "$python" "$tmp/all.json" "$tmp/user.json" "$tmp/report" "$tmp/out"; then
        echo "ok: $python"
    else
        failures=$((failures + 1))
        sed -n '/^ *#1 /,/^ *#3 /p' "$tmp/report" | head -60
    fi
done <"$tmp/pythons"
[ "$failures" -eq 0 ] || fail "$failures interpreters did not name their Python frames"

# Turned off, the frame reader adds no Python frame, and the stacks keep the interpreter's.
python=$(head -1 "$tmp/pythons")
rm -rf "$tmp/run"
"$stallscope" run -q --no-python-frames -o "$tmp/run" -- "$python" "$fixture" cpu \
    >"$tmp/out" 2>"$tmp/err" || fail "$python failed under stallscope --no-python-frames"
"$stallscope" export --format json -o "$tmp/off.json" "$tmp/run" || fail "export failed"
python3 - "$tmp/off.json" <<'PY' || fail "$python: --no-python-frames still read Python frames"
import json
import sys

run = json.load(open(sys.argv[1]))
frames = [f for p in run["processes"] for s in p["stalls"] for x in s["samples"]
          for f in x["frames"]]
python = [f["symbol"] for f in frames if f["kind"] == "interpreter"]
if python or not any((f["symbol"] or "").startswith("_PyEval_EvalFrame") for f in frames):
    print(f"FAIL: Python frames {python[:3]}, or no evaluation loop in {len(frames)} frames")
    sys.exit(1)
print("ok: --no-python-frames: the interpreter's own frames only")
PY
exit 0
