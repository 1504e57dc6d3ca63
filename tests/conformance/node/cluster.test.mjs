// cluster: a primary forks workers that share a listening socket, answer requests,
// exchange messages and disconnect.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';

const app = new URL('cluster-app.cjs', import.meta.url).pathname;

test('two workers serve ten requests on a shared port, then exit', async () => {
    const child = spawn(process.execPath, [app]);
    let out = '', err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const [status] = await once(child, 'close');
    assert.equal(err, '');
    assert.equal(out, '0,1,2,3,4,5,6,7,8,9\nworkers exited 0,0\n');
    assert.equal(status, 0);
});
