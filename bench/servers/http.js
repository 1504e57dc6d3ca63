// The smallest Node.js HTTP server: what a framework-free service costs per request, so
// that anything stallscope adds is not hidden behind application work.
//   node http.js PORT
'use strict';
const http = require('http');

const port = Number(process.argv[2]);
const body = 'hello world\n';
http
  .createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': body.length });
    res.end(body);
  })
  .listen(port, '127.0.0.1');
