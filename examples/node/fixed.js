// The http server of blocking.js, fixed: fs.promises.readFile, zlib.gzip and crypto.pbkdf2
// run in libuv's thread pool, so the loop serves other requests while they work.
//
// usage: node fixed.js [PORT]   (PORT 0 picks a free port; SIGTERM or ^C stops it)
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const { promisify } = require('util');
const zlib = require('zlib');

const gzip = promisify(zlib.gzip);
const pbkdf2 = promisify(crypto.pbkdf2);

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
  const title = (await fs.promises.readFile(TITLE_FILE, 'utf8')).split('\n')[0];
  return gzip(`${title}\n${FIGURES}`, { level: 9 });
}

async function login(password) {
  return (await pbkdf2(password, SALT, ROUNDS, 32, 'sha256')).toString('hex') + '\n';
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
