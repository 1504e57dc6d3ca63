// child_process: spawn, exec, execSync with input, execFileSync, spawnSync, and children
// that read their standard input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, exec, execSync, execFileSync, spawnSync } from 'node:child_process';
import { once } from 'node:events';

test('spawn with piped stdio', async () => {
    const child = spawn('tr', ['a-z', 'A-Z']);
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stdin.end('hello through a pipe\n');
    const [code] = await once(child, 'close');
    assert.equal(code, 0);
    assert.equal(out, 'HELLO THROUGH A PIPE\n');
});

test('a shell child that reads stdin, then runs another command', async () => {
    const child = spawn('sh', ['-c', 'cat; true']);
    let out = '', err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.stdin.end('read by cat\n');
    const [code] = await once(child, 'close');
    assert.equal(err, '');
    assert.equal(out, 'read by cat\n');
    assert.equal(code, 0);
});

test('exec collects stdout, stderr and the exit code', async () => {
    const result = await new Promise((resolve) =>
        exec('echo out; echo err >&2; exit 3', (error, stdout, stderr) =>
            resolve({ code: error && error.code, stdout, stderr })));
    assert.deepEqual(result, { code: 3, stdout: 'out\n', stderr: 'err\n' });
});

test('execSync with input', () => {
    assert.equal(execSync('cat', { input: 'given as input\n' }).toString(), 'given as input\n');
    assert.equal(execSync('sort | uniq -c | tr -s " "', { input: 'b\na\nb\n' }).toString(),
        ' 1 a\n 2 b\n');
    assert.equal(execSync('bash -c "cat; true"', { input: 'bash reads it\n' }).toString(),
        'bash reads it\n');
});

test('execSync that fails reports status and stderr', () => {
    assert.throws(() => execSync('echo oops >&2; exit 7', { stdio: 'pipe' }),
        (e) => e.status === 7 && e.stderr.toString() === 'oops\n');
});

test('execFileSync and spawnSync', () => {
    assert.equal(execFileSync('printf', ['%s-%s', 'a', 'b']).toString(), 'a-b');
    const r = spawnSync('sh', ['-c', 'read line; echo "got $line"; exit 4'], { input: 'x\n' });
    assert.equal(r.status, 4);
    assert.equal(r.stdout.toString(), 'got x\n');
    assert.equal(r.stderr.toString(), '');
});

test('a child killed by a signal', async () => {
    const child = spawn('sleep', ['30']);
    child.kill('SIGTERM');
    const [code, signal] = await once(child, 'exit');
    assert.equal(code, null);
    assert.equal(signal, 'SIGTERM');
});

test('many children at once', async () => {
    const runs = [];
    for (let i = 0; i < 20; i++) {
        runs.push(new Promise((resolve) =>
            exec(`echo ${i}`, (error, stdout) => resolve(Number(stdout)))));
    }
    assert.deepEqual(await Promise.all(runs), [...Array(20).keys()]);
});

test('fork with an IPC channel', async () => {
    const code = 'process.on("message", (m) => { process.send(m * 2); process.disconnect(); })';
    const child = spawn(process.execPath, ['-e', code], { stdio: ['inherit', 'inherit', 'inherit', 'ipc'] });
    child.send(21);
    const [reply] = await once(child, 'message');
    assert.equal(reply, 42);
    const [status] = await once(child, 'exit');
    assert.equal(status, 0);
});
