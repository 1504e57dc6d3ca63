// An http server with problems planted in two routes, each of which stops every other
// request while it runs: /report reads a file with fs.readFileSync and compresses the
// report with zlib.gzipSync, and /login hashes the password with crypto.pbkdf2Sync.
// fixed.js is the same server with the asynchronous APIs; diff the two.
//
// usage: node blocking.js [PORT]   (PORT 0 picks a free port; SIGTERM or ^C stops it)
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const zlib = require('zlib');

const TITLE_FILE = __filename; // stands for any file a request reads: its first line is the title
const REPORT_ROWS = 60000; // about 0.4 s of gzip at level 9
const SALT = 'stallscope example salt';
const ROUNDS = 1000000; // about 0.35 s of PBKDF2

// The figures a report is made of, computed once at start-up.
function computeFigures() {
  const rows = [];
  let x = 1;
  for (let id = 0; id < REPORT_ROWS; id++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    rows.push({ id, score: x / 2147483648, name: `user${x % 100003}` });
  }
  return JSON.stringify(rows);
}
const FIGURES = computeFigures();

async function report() {
  const title = fs.readFileSync(TITLE_FILE, 'utf8').split('\n')[0];
  return zlib.gzipSync(`${title}\n${FIGURES}`, { level: 9 });
}

async function login(password) {
  return crypto.pbkdf2Sync(password, SALT, ROUNDS, 32, 'sha256').toString('hex') + '\n';
}

async function route(url) {
  if (url === '/report') return { type: 'application/gzip', body: await report() };
  if (url === '/login') return { type: 'text/plain', body: await login('correct horse battery staple') };
  return { type: 'text/plain', body: 'try /report or /login\n' };
}

function createServer() {
  return http.createServer((req, res) => {
    route(req.url).then(
      ({ type, body }) => res.writeHead(200, { 'Content-Type': type }).end(body),
      (err) => res.writeHead(500).end(`${err}\n`));
  });
}

module.exports = { createServer };

if (require.main === module) {
  const server = createServer();
  server.listen(Number(process.argv[2] || 8080), '127.0.0.1', () =>
    console.log(`listening on port ${server.address().port}`));
  for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close());
}
