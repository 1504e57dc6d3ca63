// fs: synchronous, callback, promise and stream APIs on a directory of our own.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';

let dir;
before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'conformance-fs-')); });
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('synchronous write, append, read, stat, rename, unlink', () => {
    const file = path.join(dir, 'sync.txt');
    fs.writeFileSync(file, 'one\n');
    fs.appendFileSync(file, 'two\n');
    assert.equal(fs.readFileSync(file, 'utf8'), 'one\ntwo\n');
    assert.equal(fs.statSync(file).size, 8);
    fs.renameSync(file, file + '.moved');
    assert.equal(fs.existsSync(file), false);
    fs.unlinkSync(file + '.moved');
    assert.throws(() => fs.readFileSync(file), { code: 'ENOENT' });
});

test('descriptors: open, write at positions, read back, close', () => {
    const fd = fs.openSync(path.join(dir, 'fd.bin'), 'w+');
    fs.writeSync(fd, Buffer.from('abcdef'), 0, 6, 0);
    fs.writeSync(fd, Buffer.from('XY'), 0, 2, 2);
    const buf = Buffer.alloc(6);
    assert.equal(fs.readSync(fd, buf, 0, 6, 0), 6);
    assert.equal(buf.toString(), 'abXYef');
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    assert.throws(() => fs.closeSync(fd), { code: 'EBADF' });
});

test('callbacks', async () => {
    const file = path.join(dir, 'cb.txt');
    await new Promise((resolve, reject) =>
        fs.writeFile(file, 'callback', (e) => (e ? reject(e) : resolve())));
    const text = await new Promise((resolve, reject) =>
        fs.readFile(file, 'utf8', (e, t) => (e ? reject(e) : resolve(t))));
    assert.equal(text, 'callback');
});

test('promises: a hundred files in parallel, readdir, rm', async () => {
    const names = [...Array(100).keys()].map((i) => `p${String(i).padStart(3, '0')}`);
    await Promise.all(names.map((n) => fsp.writeFile(path.join(dir, n), n)));
    const listed = (await fsp.readdir(dir)).filter((n) => n.startsWith('p')).sort();
    assert.deepEqual(listed, names);
    const texts = await Promise.all(names.map((n) => fsp.readFile(path.join(dir, n), 'utf8')));
    assert.deepEqual(texts, names);
    await Promise.all(names.map((n) => fsp.rm(path.join(dir, n))));
});

test('streams: 8 MiB through a pipeline', async () => {
    const src = path.join(dir, 'big.bin'), dst = path.join(dir, 'copy.bin');
    fs.writeFileSync(src, Buffer.alloc(8 << 20, 0x5a));
    await pipeline(fs.createReadStream(src), fs.createWriteStream(dst));
    assert.equal(fs.statSync(dst).size, 8 << 20);
    assert.ok(fs.readFileSync(dst).equals(fs.readFileSync(src)));
});

test('fs.watch sees a new file', async () => {
    const watcher = fs.watch(dir);
    const seen = new Promise((resolve) => watcher.on('change', (type, name) => {
        if (name === 'watched.txt') resolve(name);
    }));
    fs.writeFileSync(path.join(dir, 'watched.txt'), 'x');
    assert.equal(await seen, 'watched.txt');
    watcher.close();
});
