// The example's test suite: starts the server given on the command line (./fixed.js by
// default) in this process, requests each route twice and checks the replies. package.json
// runs it under `stallscope run --check`, which fails it when the server blocks its loop.
// It prints nothing when it passes: writing to a standard output that is a file is itself a
// blocking call on the loop.
'use strict';
const assert = require('assert');
const http = require('http');
const path = require('path');
const { promisify } = require('util');
const zlib = require('zlib');

const gunzip = promisify(zlib.gunzip);

const { createServer } = require(path.resolve(process.argv[2] || './fixed.js'));

function get(port, route) {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: route }, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks) }));
    }).on('error', reject);
  });
}

async function main() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  try {
    for (let round = 0; round < 2; round++) {
      const login = await get(port, '/login');
      assert.strictEqual(login.status, 200);
      assert.match(login.body.toString(), /^[0-9a-f]{64}\n$/);
      const report = await get(port, '/report');
      assert.strictEqual(report.status, 200);
      // The test is on the loop too: it unzips in the thread pool and reads only the ends.
      const body = await gunzip(report.body);
      const newline = body.indexOf('\n');
      assert.match(body.subarray(0, newline).toString(), /^\/\//);
      assert.strictEqual(body.subarray(newline + 1, newline + 10).toString(), '[{"id":0,');
      assert.strictEqual(body.subarray(-2).toString(), '}]');
    }
  } finally {
    server.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
