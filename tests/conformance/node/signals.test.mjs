// Signals: handlers for signals a process sends itself, SIGINT and SIGTERM from a child,
// SIGCHLD, and a child's signal handling seen from the parent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';

// Signal watchers do not keep Node's loop alive: wait for one with a timer running, which
// also fails the test rather than hanging it when the signal never comes.
const within = (promise, ms = 10000) => {
    let timer;
    const timeout = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`nothing after ${ms} ms`)), ms);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
};

test('process.kill of self with SIGUSR2, SIGHUP', async () => {
    for (const signal of ['SIGUSR2', 'SIGHUP']) {
        const got = once(process, signal);
        process.kill(process.pid, signal);
        assert.equal((await within(got))[0], signal);
    }
});

test('SIGINT and SIGTERM handlers, signals sent by a child', async () => {
    for (const signal of ['SIGINT', 'SIGTERM']) {
        const got = once(process, signal);
        spawn('sh', ['-c', `kill -${signal.slice(3)} ${process.pid}`]);
        assert.equal((await within(got))[0], signal);
    }
});

test('SIGCHLD is delivered when a child exits', async () => {
    const got = once(process, 'SIGCHLD');
    const child = spawn('true');
    await within(Promise.all([got, once(child, 'exit')]));
});

test('a burst of signals is delivered, in any number, and the process goes on', async () => {
    let count = 0;
    const handler = () => count++;
    process.on('SIGUSR1', handler);
    for (let i = 0; i < 50; i++) process.kill(process.pid, 'SIGUSR1');
    await new Promise((resolve) => setTimeout(resolve, 100));
    process.off('SIGUSR1', handler);
    assert.ok(count >= 1 && count <= 50, `count ${count}`);
});

test('a child that handles SIGTERM and exits on its own terms', async () => {
    const code = `process.on('SIGTERM', () => { console.log('handled'); process.exit(5); });
                  console.log('ready'); setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['-e', code]);
    let out = '';
    child.stdout.on('data', (d) => {
        out += d;
        if (out === 'ready\n') child.kill('SIGTERM');
    });
    const [status, signal] = await once(child, 'close');
    assert.equal(out, 'ready\nhandled\n');
    assert.equal(status, 5);
    assert.equal(signal, null);
});

test('a child without a handler dies of the signal', () => {
    const r = spawnSync(process.execPath, ['-e', 'process.kill(process.pid, "SIGTERM"); setTimeout(() => {}, 5000)']);
    assert.equal(r.status, null);
    assert.equal(r.signal, 'SIGTERM');
});
