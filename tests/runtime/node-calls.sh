#!/bin/sh
# Runtime test: blocking calls in Node.js. Each scenario of the fixture runs twice: once under
# `node --trace-sync-io`, which warns with a JavaScript stack at every synchronous call after
# the first turn of the event loop, and once under `stallscope run`. Every warning must have a
# call site in the trace (the matching rule is with the checker below), and the asynchronous
# scenarios, whose work runs on libuv's threadpool, must leave nothing on the main thread.
# Exit status follows the automake test driver: 0 pass, 1 fail, 77 skip, 99 harness error.

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
SYNC="readFileSync writeFileSync appendFileSync statSync existsSync readdirSync execSync fsyncSync"
ASYNC="promisesReadFile dnsLookup pbkdf2"
runtime_setup node tests/fixtures/node/calls.js

fail() {
    echo "FAIL: $*"
    exit 1
}

# One node process per synchronous scenario: a call site is a native return address that
# every JavaScript caller of an operation shares, so each scenario needs a trace of its own.
# The asynchronous scenarios leave no site of their own and share one process. The runs
# under --trace-sync-io time nothing and go in parallel.
runs="$SYNC async"
scenarios() { if [ "$1" = async ]; then echo "$ASYNC"; else echo "$1"; fi; }
for r in $runs; do
    mkdir "$tmp/$r" "$tmp/$r/files" || exit 99
    (
        # shellcheck disable=SC2046
        node --trace-sync-io "$fixture" "$tmp/$r/files" $(scenarios "$r") >/dev/null \
            2>"$tmp/$r/warnings"
        echo $? >"$tmp/$r/warnings.status"
    ) &
done
wait
for r in $runs; do
    [ "$(cat "$tmp/$r/warnings.status")" = 0 ] || fail "$r: node failed: $(cat "$tmp/$r/warnings")"
done

# Records every scenario under stallscope and compares with --trace-sync-io.
trace_and_compare() {
    for r in $runs; do
        rm -rf "$tmp/$r/run"
        # shellcheck disable=SC2046
        "$stallscope" run -q -o "$tmp/$r/run" -- node "$fixture" "$tmp/$r/files" $(scenarios "$r") \
            >"$tmp/$r/out" 2>"$tmp/$r/err" ||
            fail "$r: node failed under stallscope: $(cat "$tmp/$r/err")"
    done
    for r in $runs; do
        ("$stallscope" export --format json -o "$tmp/$r/run.json" "$tmp/$r/run"; echo $? >"$tmp/$r/export.status") &
    done
    wait
    for r in $runs; do
        [ "$(cat "$tmp/$r/export.status")" = 0 ] || fail "$r: export failed"
    done
    node - "$tmp" "$SYNC" "$ASYNC" <<'EOF'

'use strict';
// The matching rule. A warning's innermost frame is the operation that made the synchronous
// call (openSync, tryStatSync, readSync, spawnSync...); the frame just inside the first frame
// of the fixture is the API the fixture called (readFileSync, execSync...). The warning is
// matched by a call site of the main thread (tid = pid) whose function is one of the native
// calls the operation makes, in that call's category, and whose stack holds a JavaScript
// frame named after the operation or the API. Matching by operation and not by line keeps
// the rule true across Node versions; a site is keyed by its native return address, which
// every caller of an operation shares, so it is the operation or the API that must be in the
// site's stack, not the fixture's exact caller. An operation missing from NATIVE fails the
// test until it is added, so a new Node cannot make warnings pass unmatched.
const fs = require('fs');
const [dir, syncList, asyncList] = process.argv.slice(2);

const STAT = /^(stat|lstat|fstat|fstatat|__xstat|__lxstat|__fxstat|__fxstatat)(64)?$|^(syscall_)?statx$/;
const NATIVE = {
  openSync: [/^open(at)?(64)?$/, 'file'],
  readSync: [/^p?readv?(64)?$/, 'file'],
  tryReadSync: [/^p?readv?(64)?$/, 'file'],
  statSync: [STAT, 'file'],
  tryStatSync: [STAT, 'file'],
  fstatSync: [STAT, 'file'],
  lstatSync: [STAT, 'file'],
  readdirSync: [/^(scandir|opendir|readdir)(64)?$/, 'file'],
  // writeFileSync opens and writes in one native binding.
  writeFileSync: [/^(open(64)?|p?writev?(64)?)$/, 'file'],
  writeSync: [/^p?writev?(64)?$/, 'file'],
  fsyncSync: [/^f(data)?sync$/, 'file'],
  // A synchronous child runs a loop of its own: a wait on another epoll set.
  spawnSync: [/^(epoll_p?wait2?|p?poll)$/, 'wait'],
};
// close() only releases a descriptor, so it is not in the catalogue.
const NOT_CATALOGUED = new Set(['closeSync']);

const problems = [];
const expect = (ok, what) => ok || problems.push(what);
const read = (s, f) => fs.readFileSync(`${dir}/${s}/${f}`, 'utf8');
const jsFrame = (name) => new RegExp(`^JS:[~^*+]?${name} `);
const hasFrame = (site, re) => site.frames.some((f) => re.test(f.symbol || ''));
// The fixture's own function for a scenario: callReadFileSync for readFileSync.
const callerOf = (s) => jsFrame(`call${s[0].toUpperCase()}${s.slice(1)}`);

// "(node:PID) WARNING: Detected use of sync API" followed by "    at FN (LOCATION)" lines.
function warnings(text) {
  const found = [];
  for (const block of text.split('WARNING: Detected use of sync API').slice(1)) {
    const frames = [];
    for (const line of block.split('\n')) {
      const m = /^\s+at (?:(\S+) \((.*)\)|(.*))$/.exec(line);
      if (m) frames.push({ name: (m[1] || '').split('.').pop(), where: m[2] || m[3] });
      else if (frames.length) break;
    }
    const user = frames.findIndex((f) => f.where.includes('calls.js'));
    const op = frames[0] ? frames[0].name : '';
    found.push({ op, api: user > 0 ? frames[user - 1].name : op });
  }
  return found;
}

function mainSites(s) {
  const run = JSON.parse(read(s, 'run.json'));
  const node = run.processes.find((p) => /calls\.js/.test(p.command));
  expect(node, `${s}: no trace of the node process`);
  return node ? node.calls.filter((c) => c.tid === node.pid) : [];
}

for (const s of syncList.split(' ')) {
  expect(read(s, 'out').includes(`ran ${s} 3`), `${s}: the fixture did not run three times`);
  const sites = mainSites(s);
  const seen = new Set();
  for (const w of warnings(read(s, 'warnings'))) {
    const key = `${w.op} in ${w.api}`;
    if (seen.has(key) || NOT_CATALOGUED.has(w.op)) continue;
    seen.add(key);
    const native = NATIVE[w.op];
    if (!native) {
      problems.push(`${s}: no native calls known for ${w.op}; add it to NATIVE`);
      continue;
    }
    const [fn, category] = native;
    expect(sites.some((c) => fn.test(c.function) && c.category === category &&
                             (hasFrame(c, jsFrame(w.op)) || hasFrame(c, jsFrame(w.api)))),
           `${s}: --trace-sync-io warned about ${key}, no ${category} call site matching ${fn} ` +
           `with ${w.op} or ${w.api} in its stack`);
  }
  // existsSync is never warned about; the fixture's own caller is in some call site anyway.
  expect(sites.some((c) => ['file', 'wait'].includes(c.category) && hasFrame(c, callerOf(s))),
         `${s}: no file or wait call site with the fixture's caller in its stack`);
}

// Handing work to the threadpool only takes the threadpool's queue lock on the main thread.
expect(warnings(read('async', 'warnings')).length === 0, 'asynchronous calls: --trace-sync-io warned');
const asyncSites = mainSites('async');
for (const s of asyncList.split(' ')) {
  expect(read('async', 'out').includes(`done ${s} 3`), `${s}: not every asynchronous call completed`);
  for (const c of asyncSites)
    expect(c.category === 'lock' || !hasFrame(c, callerOf(s)),
           `${s}: ${c.category} call ${c.function}() on the main thread (${c.detail})`);
}
for (const c of asyncSites)
  expect(c.category !== 'dns', `dnsLookup: ${c.function}() on the main thread`);

for (const p of problems) console.log(p);
process.exit(problems.length ? 1 : 0);
EOF
}

# A native site keeps its deepest captured stack, so every JavaScript caller that reached it
# is found whichever of its calls was captured: one attempt is enough.
trace_and_compare ||
    fail "the trace does not show what --trace-sync-io saw"
