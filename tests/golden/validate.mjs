// Reads the golden outputs the way their consumers do: SARIF against the SARIF 2.1.0 schema
// the SARIF multitool ships, speedscope against its own file-format schema plus the rules
// its importer enforces, JUnit through junit-to-ctrf, Chrome trace events for nesting.
// Usage: node validate.mjs NODE_MODULES DIR; prints "ok: ..." or "FAIL: ..." per check,
// "SKIP: ..." for a consumer that is not installed; exits 1 when a check failed.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const [modules, dir] = process.argv.slice(2);
const require = createRequire(path.join(modules, 'index.js'));
let failed = 0;
const ok = (what) => console.log(`ok: ${what}`);
const fail = (what) => {
  console.log(`FAIL: ${what}`);
  failed++;
};
const skip = (what) => console.log(`SKIP: ${what}`);
const read = (name) => JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8'));
const have = (mod) => fs.existsSync(path.join(modules, mod));

function validator(Ajv, schema) {
  const ajv = new Ajv({ strict: false, allErrors: true });
  require('ajv-formats')(ajv);
  return ajv.compile(schema);
}

function schemaCheck(name, validate, doc) {
  if (validate(doc)) ok(`${name} is valid against its schema`);
  else fail(`${name}: ${JSON.stringify(validate.errors.slice(0, 5))}`);
}

// SARIF: the schema, and that the schema is strict enough to refuse a result without message.
if (have('ajv') && have('@microsoft/sarif-multitool-linux/sarif-2.1.0.json')) {
  const Ajv2020 = require('ajv/dist/2020').default;
  const schema = JSON.parse(fs.readFileSync(
    path.join(modules, '@microsoft/sarif-multitool-linux/sarif-2.1.0.json'), 'utf8'));
  const validate = validator(Ajv2020, schema);
  const sarif = read('check.sarif');
  schemaCheck('check.sarif', validate, sarif);
  const broken = structuredClone(sarif);
  delete broken.runs[0].results[0].message;
  if (validate(broken)) fail('the SARIF schema accepts a result without a message');
  else ok('the SARIF schema refuses a result without a message');
  const results = sarif.runs[0].results;
  const flows = results.filter((r) => r.codeFlows).length;
  if (flows > 0 && results.every((r) => r.locations.length === 1)) ok('SARIF results have a location and code flows');
  else fail('SARIF results lack locations or code flows');
} else {
  skip('ajv or the SARIF schema is not installed');
}

// speedscope: the schema, then what its importer checks.
if (have('ajv') && have('speedscope/dist/release/file-format-schema.json')) {
  const Ajv = require('ajv').default;
  const schema = JSON.parse(fs.readFileSync(
    path.join(modules, 'speedscope/dist/release/file-format-schema.json'), 'utf8'));
  const doc = read('export.speedscope.json');
  schemaCheck('export.speedscope.json', validator(Ajv, schema), doc);
  const nframes = doc.shared.frames.length;
  const problems = [];
  for (const p of doc.profiles) {
    if (p.type === 'evented') {
      const open = [];
      let at = p.startValue;
      for (const e of p.events) {
        if (e.at < at) problems.push(`${p.name}: event at ${e.at} before ${at}`);
        if (e.at > p.endValue) problems.push(`${p.name}: event after endValue`);
        if (e.frame >= nframes) problems.push(`${p.name}: frame ${e.frame} out of range`);
        at = e.at;
        if (e.type === 'O') open.push(e.frame);
        else if (open.pop() !== e.frame) problems.push(`${p.name}: close of ${e.frame} out of order`);
      }
      if (open.length) problems.push(`${p.name}: ${open.length} frames left open`);
    } else {
      if (p.samples.length !== p.weights.length) problems.push(`${p.name}: samples and weights differ`);
      if (p.weights.some((w) => w < 0)) problems.push(`${p.name}: negative weight`);
      if (p.samples.flat().some((f) => f >= nframes)) problems.push(`${p.name}: frame out of range`);
      const total = p.weights.reduce((a, b) => a + b, 0);
      if (total !== p.endValue) problems.push(`${p.name}: endValue ${p.endValue} is not the total ${total}`);
    }
  }
  if (problems.length) fail(`speedscope importer rules: ${problems.join('; ')}`);
  else ok(`speedscope events balance and samples match weights (${doc.profiles.length} profiles)`);
} else {
  skip('ajv or the speedscope schema is not installed');
}

// Chrome trace: Perfetto needs slices on one thread to nest; calls sit inside their stall.
{
  const doc = read('export.chrome.json');
  const problems = [];
  const tracks = new Map();
  for (const e of doc.traceEvents) {
    for (const k of ['name', 'ph', 'pid', 'tid', 'ts'])
      if (!(k in e)) problems.push(`event without ${k}`);
    if (e.ph === 'X') {
      if (!(e.dur >= 0)) problems.push(`${e.name} without a duration`);
      if (!Array.isArray(e.args.stack)) problems.push(`${e.name} without a stack`);
      const key = `${e.pid}/${e.tid}`;
      if (!tracks.has(key)) tracks.set(key, []);
      tracks.get(key).push(e);
    }
  }
  let nested = 0;
  for (const [key, slices] of tracks) {
    slices.sort((a, b) => a.ts - b.ts || b.dur - a.dur);
    const stack = [];
    for (const s of slices) {
      while (stack.length && s.ts >= stack[stack.length - 1].ts + stack[stack.length - 1].dur)
        stack.pop();
      const parent = stack[stack.length - 1];
      if (parent && s.ts + s.dur > parent.ts + parent.dur + 1e-6)
        problems.push(`${key}: ${s.name} at ${s.ts} overlaps ${parent.name} at ${parent.ts}`);
      if (s.cat === 'blocking') {
        if (!parent || parent.cat !== 'stall') problems.push(`${key}: call ${s.name} outside a stall`);
        else nested++;
      }
      stack.push(s);
    }
  }
  if (nested === 0) problems.push('no blocking call nested in a stall');
  if (problems.length) fail(`chrome trace: ${problems.join('; ')}`);
  else ok(`chrome trace slices nest on every thread (${nested} calls inside stalls)`);
}

// JUnit: what a CI's test-report reader counts.
if (have('junit-to-ctrf')) {
  const { convertJUnitToCTRFReport } = await import(
    pathToFileURL(path.join(modules, 'junit-to-ctrf/dist/index.js')).href);
  const xml = fs.readFileSync(path.join(dir, 'check.junit.xml'), 'utf8');
  const attr = (name) => Number(new RegExp(`<testsuites [^>]*${name}="(\\d+)"`).exec(xml)[1]);
  const report = await convertJUnitToCTRFReport(path.join(dir, 'check.junit.xml'));
  const s = report.results.summary;
  if (s.tests === attr('tests') && s.failed === attr('failures') && s.skipped === attr('skipped'))
    ok(`junit-to-ctrf reads check.junit.xml: ${s.tests} tests, ${s.failed} failed, ${s.skipped} skipped`);
  else fail(`junit-to-ctrf counts ${JSON.stringify(s)}, the report says otherwise`);
} else {
  skip('junit-to-ctrf is not installed');
}

process.exit(failed ? 1 : 0);
