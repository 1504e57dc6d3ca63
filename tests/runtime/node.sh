#!/bin/sh
# Runtime test: a Node.js program under `stallscope run`. The fixture times its own planted
# stalls; the trace must hold stalls of those lengths with the JavaScript functions named
# (a busy loop, native key derivation, JSON.parse, each called from a named function), a
# readFileSync call site with its caller, and JavaScript frames with their kind and script
# location.
# Exit status follows the automake test driver: 0 pass, 1 fail, 77 skip, 99 harness error.

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
runtime_setup node tests/fixtures/node/stall.js

# Node runs in the temporary directory so that any file it drops there can be seen.
(cd "$tmp" && exec "$stallscope" run -q -o "$tmp/run" -- node "$fixture") \
    >"$tmp/out" 2>"$tmp/err"
status=$?
[ "$status" -eq 0 ] || fail "node exited with status $status under stallscope"

# Without the originals, JavaScript frames can only be named from the run's own copies.
drop_tmp_maps

for log in "$tmp"/isolate-*.log; do
    [ -e "$log" ] && fail "node left ${log##*/} in its working directory"
done

"$stallscope" export --format json "$tmp/run" >"$tmp/run.json" || fail "export failed"

node - "$tmp/run.json" "$tmp/out" "$tmp/run" "$fixture" <<'EOF' || fail "the trace does not show the planted stalls"
'use strict';
const fs = require('fs');
const [jsonPath, outPath, runDir, fixture] = process.argv.slice(2);
const run = JSON.parse(fs.readFileSync(jsonPath, 'utf8'));

const planted = {};
for (const line of fs.readFileSync(outPath, 'utf8').split('\n')) {
  const m = /^planted (\S+) ([0-9.]+)$/.exec(line);
  if (m) planted[m[1]] = Number(m[2]);
}

const problems = [];
const expect = (ok, what) => ok || problems.push(what);

// The stall is the whole iteration, so it also holds the timer's own bookkeeping.
const near = (ns, ms) => Math.abs(ns / 1e6 - ms) <= Math.max(ms * 0.1, 5);
const names = (stall) => stall.samples.flatMap((s) => s.frames.map((f) => f.symbol || ''));
const named = (stall, re) => names(stall).some((n) => re.test(n));

expect(planted.busyLoop > 0 && planted.stallPbkdf2 > 0 && planted.parsePayload > 0 &&
       planted.readConfig >= 0, 'the fixture did not report its stalls');
expect(run.processes.length === 1, `expected 1 process, got ${run.processes.length}`);
const proc = run.processes[0] || { threads: [], stalls: [] };
expect(proc.threads.some((t) => t.loop && t.iterations > 0), 'no loop thread with iterations');
expect(fs.existsSync(`${runDir}/perf-${proc.pid}.map`), `perf-${proc.pid}.map not kept in the run`);

// JavaScript runs on the main thread, whose tid is the pid.
const stalls = proc.stalls.filter((s) => s.tid === proc.pid);
expect(stalls.some((s) => near(s.duration_ns, planted.busyLoop) && named(s, /busyLoop/)),
       `no stall of ~${planted.busyLoop} ms in busyLoop`);
// Both the native key derivation and the JavaScript caller that asked for it.
expect(stalls.some((s) => near(s.duration_ns, planted.stallPbkdf2) && named(s, /pbkdf2/i) &&
                          named(s, /stallPbkdf2/)),
       `no stall of ~${planted.stallPbkdf2} ms in PBKDF2 called from stallPbkdf2`);

// JSON.parse runs in V8's C++; the JavaScript function that called it must be in the stack.
expect(stalls.some((s) => near(s.duration_ns, planted.parsePayload) && named(s, /parsePayload/)),
       `no stall of ~${planted.parsePayload} ms in JSON.parse called from parsePayload`);

// readFileSync's reads come from one native call site; its stack must reach readConfig.
const frameNamed = (frames, re) => frames.some((f) => re.test(f.symbol || ''));
expect(proc.calls.some((c) => c.tid === proc.pid && c.category === 'file' &&
                              frameNamed(c.frames, /readConfig/)),
       'no file call site with readConfig in its stack');

// A JavaScript frame says what ran it and where the function is: V8 gives the line and
// column of the function's start.
const source = fs.readFileSync(fixture, 'utf8').split('\n');
const busyLine = source.findIndex((l) => l.startsWith('function busyLoop(')) + 1;
const busyFrames = stalls.flatMap((s) => s.samples.flatMap((m) => m.frames))
                         .filter((f) => /busyLoop/.test(f.symbol || ''));
expect(busyFrames.length > 0 &&
       busyFrames.every((f) => ['jit', 'interpreter'].includes(f.kind) && f.file === fixture &&
                               f.line === busyLine),
       `busyLoop frames lack kind jit/interpreter or ${fixture}:${busyLine}: ` +
       JSON.stringify(busyFrames.slice(0, 2)));

for (const p of problems) console.log(p);
process.exit(problems.length ? 1 : 0);
EOF

# The user's functions stand out when the runtime's frames are hidden.
"$stallscope" report --frames user "$tmp/run" >"$tmp/user" || fail "report --frames user failed"
for name in busyLoop stallPbkdf2 parsePayload; do
    grep -q "$name" "$tmp/user" || fail "report --frames user does not show $name"
done
# Stacks are the runs of indented frame lines; the one with busyLoop must not show libuv.
awk '/^          / { stack = stack $0 "\n"; next }
     { if (stack ~ /busyLoop/ && stack ~ /uv_run/) bad = 1; stack = "" }
     END { if (stack ~ /busyLoop/ && stack ~ /uv_run/) bad = 1; exit bad }' "$tmp/user" ||
    fail "report --frames user shows libuv's uv_run under busyLoop"

