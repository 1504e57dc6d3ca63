// The program cluster.test.mjs runs: a primary, two workers on one shared port.
const cluster = require('node:cluster');
const http = require('node:http');
if (cluster.isPrimary) {
    const workers = [cluster.fork(), cluster.fork()];
    let listening = 0, answers = [];
    cluster.on('listening', (w, address) => {
        if (++listening < 2) return;
        let left = 10;
        for (let i = 0; i < 10; i++) {
            http.get({ port: address.port, host: '127.0.0.1', path: '/' + i, agent: false }, (res) => {
                let body = '';
                res.on('data', (d) => (body += d));
                res.on('end', () => {
                    answers.push(body);
                    if (--left === 0) {
                        console.log(answers.sort().join(','));
                        for (const w of workers) w.send('bye');
                    }
                });
            });
        }
    });
    let exits = [];
    cluster.on('exit', (w, code) => {
        exits.push(code);
        if (exits.length === 2) console.log('workers exited', exits.join(','));
    });
} else {
    const server = http.createServer((req, res) => res.end(req.url.slice(1)));
    server.listen(0, '127.0.0.1');
    process.on('message', (m) => { if (m === 'bye') { server.close(); cluster.worker.disconnect(); } });
}
