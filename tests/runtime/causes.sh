#!/bin/sh
# Runtime test: the cause of a stall, named from the frames of real runtimes. Node.js stalls in
# pbkdf2Sync, JSON.parse, gzipSync, a collection of a large heap, the require() of a large
# module, a catastrophic regex and v8.serialize, and Python asyncio stalls in hashlib, json, re,
# zlib, gc.collect and the import of a large module,
# must each have the planted kind of CPU work as their largest share of time on CPU (a busy
# machine may add time waiting for a CPU), called from the planted function. A Python function
# whose code has no name at all must not make the trace unreadable. Each runtime that is absent
# is skipped with a message.
# Exit status follows the automake test driver: 0 pass, 1 fail, 77 skip, 99 harness error.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
scratch
need_built "$stallscope"
ran=0

# check NAME PLANTS...: the run in $tmp/run, of NAME (node or python, its runtime), has, for each
# "KIND:FUNCTION" of PLANTS, a stall whose largest share on CPU is cpu:KIND, called from
# FUNCTION, and advice for cpu:KIND.
check() {
    name=$1
    shift
    "$stallscope" export --format json -o "$tmp/$name.json" "$tmp/run" ||
        fail "$name: export failed"
    python3 - "$tmp/$name.json" "$@" <<'PY' || fail "$name: causes are not the planted ones"
import json
import sys

run = json.load(open(sys.argv[1]))
stalls = [s for p in run["processes"] for s in p["stalls"]]
causes = {c["cause"]: c for p in run["processes"] for c in p["causes"]}
runtimes = {p["runtime"] for p in run["processes"] if p["stalls"]}
problems = []
if runtimes != {sys.argv[1].split("/")[-1].split(".")[0]}:
    problems.append(f"the process's runtime is {runtimes}")
for plant in sys.argv[2:]:
    kind, _, function = plant.partition(":")
    found = []
    for s in stalls:
        cpu = [x for x in s["cause"]["parts"] if x["cause"].startswith("cpu:")]
        if not cpu:
            continue
        top = max(cpu, key=lambda x: x["ns"])
        if top["cause"] == "cpu:" + kind and top["ns"] >= s["duration_ns"] // 10:
            found.append(top["where"] or "")
    if not found:
        problems.append(f"no stall is mostly cpu:{kind}: " +
                        str([[(x['cause'], x['ns'] // 1000000, x['where']) for x in s['cause']['parts']]
                             for s in stalls]))
    elif function and not any(w.endswith(" in " + function) for w in found):
        problems.append(f"cpu:{kind} is not called from {function}: {found}")
    elif not (causes.get("cpu:" + kind) or {}).get("advice"):
        problems.append(f"no advice for cpu:{kind}")
for p in problems:
    print("FAIL:", p)
sys.exit(1 if problems else 0)
PY
    echo "ok: $name: $*"
}

if command -v node >/dev/null 2>&1; then
    ran=$((ran + 1))
    # A young generation large enough for the parsed document: JSON.parse then runs without
    # a scavenge, so that its stall is JSON's alone and not, on a busy machine, mostly GC.
    "$stallscope" run -q -o "$tmp/run" -- node --expose-gc --max-semi-space-size=64 \
        "$SS_SRCDIR/tests/fixtures/node/causes.js" crypto json compression gc module regex \
        serialization \
        >"$tmp/out" 2>"$tmp/err" || fail "node failed under stallscope"
    check node crypto:hashPassword json:parseDocument compression:compressReport \
        gc:collectGarbage module-load:loadPlugin regex:matchBadly serialization:snapshotState
else
    echo "SKIP: node is not installed: no Node.js causes checked"
fi

if command -v python3 >/dev/null 2>&1; then
    ran=$((ran + 1))
    rm -rf "$tmp/run"
    "$stallscope" run -q -o "$tmp/run" -- python3 \
        "$SS_SRCDIR/tests/fixtures/python/causes.py" nameless json regex crypto compression gc module \
        >"$tmp/out" 2>"$tmp/err" || fail "python3 failed under stallscope"
    check python json:parse_document regex:match_badly crypto:derive_key \
        compression:compress_report gc:collect_cycles module-load:load_plugin
else
    echo "SKIP: python3 is not installed: no Python causes checked"
fi

[ "$ran" -gt 0 ] || exit 77
