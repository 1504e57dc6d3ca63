// worker_threads: messages, shared memory with Atomics.wait, exit codes, errors, and a
// worker that runs its own child process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { once } from 'node:events';

const worker = (code, options = {}) => new Worker(code, { eval: true, ...options });

test('messages both ways', async () => {
    const w = worker(`
        const { parentPort } = require('node:worker_threads');
        parentPort.on('message', (m) => { parentPort.postMessage(m.toUpperCase()); parentPort.close(); });`);
    w.postMessage('ping');
    const [reply] = await once(w, 'message');
    assert.equal(reply, 'PING');
    const [code] = await once(w, 'exit');
    assert.equal(code, 0);
});

test('Atomics.wait and notify on shared memory', async () => {
    const shared = new Int32Array(new SharedArrayBuffer(8));
    const w = worker(`
        const { workerData } = require('node:worker_threads');
        const a = new Int32Array(workerData);
        Atomics.wait(a, 0, 0);
        a[1] = a[0] * 10;
        Atomics.notify(a, 1);`, { workerData: shared.buffer });
    await new Promise((resolve) => setTimeout(resolve, 50));
    Atomics.store(shared, 0, 7);
    Atomics.notify(shared, 0);
    const [code] = await once(w, 'exit');
    assert.equal(code, 0);
    assert.equal(shared[1], 70);
});

test('exit codes and thrown errors', async () => {
    const [code] = await once(worker('process.exit(9)'), 'exit');
    assert.equal(code, 9);
    const failing = worker('throw new RangeError("from a worker")');
    const [error] = await once(failing, 'error');
    assert.equal(error.name, 'RangeError');
    assert.equal(error.message, 'from a worker');
});

test('four workers computing at once', async () => {
    const sums = await Promise.all([1, 2, 3, 4].map(async (n) => {
        const w = worker(`
            const { parentPort, workerData } = require('node:worker_threads');
            let s = 0;
            for (let i = 0; i < 2e6; i++) s += i % workerData;
            parentPort.postMessage(s);`, { workerData: n + 1 });
        const [sum] = await once(w, 'message');
        return sum;
    }));
    const expected = [2, 3, 4, 5].map((m) => {
        let s = 0;
        for (let i = 0; i < 2e6; i++) s += i % m;
        return s;
    });
    assert.deepEqual(sums, expected);
});

test('a worker that runs a child process', async () => {
    const w = worker(`
        const { parentPort } = require('node:worker_threads');
        const { execFileSync } = require('node:child_process');
        parentPort.postMessage(execFileSync('sh', ['-c', 'cat; true'], { input: 'from a worker' }).toString());`);
    const [out] = await once(w, 'message');
    assert.equal(out, 'from a worker');
});
