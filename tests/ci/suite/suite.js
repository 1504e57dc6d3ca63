// A test "suite" as a CI job runs one: each test in its own turn of the event loop, a summary
// line, and exit status 3 when a test fails. PLANT_SECOND=1 adds a test that reaches the
// second planted call; FAIL_ONE=1 adds a failing test. The summary is written once, at the
// end, so that it is the suite's only output.
'use strict';
const assert = require('assert');
const fs = require('fs');
const app = require('./app');

const tests = [['config loads', () => assert.ok(app.loadConfig() > 0)]];
if (process.env.PLANT_SECOND === '1')
  tests.push(['template exists', () => assert.ok(app.checkTemplate())]);
if (process.env.FAIL_ONE === '1')
  tests.push(['fails on purpose', () => assert.strictEqual(1 + 1, 3)]);
tests.push(['adds', () => assert.strictEqual(1 + 1, 2)]);

let failures = 0;
function run(i) {
  if (i === tests.length) {
    fs.writeSync(1, `suite: ${tests.length} tests, ${failures} failing\n`);
    process.exitCode = failures ? 3 : 0;
    return;
  }
  setTimeout(() => {
    try {
      tests[i][1]();
    } catch (e) {
      failures++;
    }
    run(i + 1);
  }, 50);
}
run(0);
