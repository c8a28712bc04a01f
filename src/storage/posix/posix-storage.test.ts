// Unit tests of the posix driver's own behaviour: temp files, atomic writes, directories and path checks.
import assert from 'node:assert/strict';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { AssertionFailure, PgpilotError } from '../../base/errors.js';
import { waitFor } from '../../base/wait.js';
import { PosixStorage } from './posix-storage.js';

let tmp = '';
let n = 0;
before(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'pgpilot-posix-storage-'));
});
after(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

/** A fresh storage in a directory that does not exist yet. */
function fresh(): { storage: PosixStorage; root: string } {
  const root = path.join(tmp, `repo-${++n}`);
  return { storage: new PosixStorage(root), root };
}

test('location is the absolute directory; the first write creates it and the parents of the object', async () => {
  const { storage, root } = fresh();
  assert.equal(storage.location, root);
  assert.equal(new PosixStorage('relative/dir').location, path.resolve('relative/dir'));
  assert.equal(storage.kind, 'posix');
  assert.equal(storage.capabilities.atomicRename, true);
  assert.deepEqual(await storage.list(''), []);
  await storage.write('a/b/c.txt', Buffer.from('abc'));
  assert.equal(await fsp.readFile(path.join(root, 'a/b/c.txt'), 'utf8'), 'abc');
});

test('temp files of writes in progress are not listed', async () => {
  const { storage, root } = fresh();
  await storage.write('dir/real', Buffer.from('x'));
  await fsp.writeFile(path.join(root, 'dir', '.real.tmp-0123abcd'), 'half');
  await fsp.writeFile(path.join(root, '.other.tmp-ff'), 'half');
  assert.deepEqual(await storage.list(''), [{ path: 'dir/real', size: 1 }]);
});

test('a stream write is invisible until it completes, then leaves no temp file', async () => {
  const { storage, root } = fresh();
  const source = new PassThrough();
  const writing = storage.write('wal/000000010000000000000001', source);
  source.write(Buffer.alloc(4096, 7));
  const temp = await waitFor(
    'the temp file',
    async () => (await fsp.readdir(path.join(root, 'wal')).catch(() => [])).find((f) => f.startsWith('.000000010000000000000001.tmp-')),
    { timeoutMs: 5000, intervalMs: 10 },
  );
  assert.match(temp, /^\.000000010000000000000001\.tmp-[0-9a-f]+$/);
  assert.equal(await storage.stat('wal/000000010000000000000001'), undefined);
  assert.deepEqual(await storage.list(''), []);
  source.end(Buffer.alloc(4096, 8));
  await writing;
  assert.deepEqual(await fsp.readdir(path.join(root, 'wal')), ['000000010000000000000001']);
  assert.equal((await storage.stat('wal/000000010000000000000001'))?.size, 8192);
});

test('a failed write removes its temp file and rethrows the source error', async () => {
  const { storage, root } = fresh();
  await storage.write('f/keep', Buffer.from('k'));
  const failing = Readable.from((function* () {
    yield Buffer.from('partial');
    throw new Error('source broke');
  })());
  await assert.rejects(storage.write('f/broken', failing), { message: 'source broke' });
  assert.deepEqual(await fsp.readdir(path.join(root, 'f')), ['keep']);
});

test('a write the file system refuses gives an Os error naming the file, with a hint', async () => {
  const { storage, root } = fresh();
  await fsp.writeFile(root, 'a file where the repository directory should be');
  await assert.rejects(storage.write('sub/x', Buffer.from('x')), (e: unknown) => {
    assert.ok(e instanceof PgpilotError);
    assert.equal(e.code, 'Os');
    assert.ok(e.message.includes(path.join(root, 'sub/x')), e.message);
    assert.ok(e.hint !== undefined);
    return true;
  });
});

test('reading a directory or a path through a file is NotFound', async () => {
  const { storage } = fresh();
  await storage.write('d/f', Buffer.from('x'));
  await assert.rejects(storage.readBuffer('d'), { code: 'NotFound' });
  await assert.rejects(storage.read('d/f/g'), { code: 'NotFound' });
  assert.equal(await storage.stat('d'), undefined);
  assert.equal(await storage.stat('d/f/g'), undefined);
});

test('paths are checked: absolute, `..`, `.`, empty segments and temp-like names are bugs', async () => {
  const { storage } = fresh();
  for (const bad of ['/etc/passwd', '../escape', 'a/../../b', 'a//b', 'a/./b', '', 'a/', 'x\0y']) {
    await assert.rejects(storage.write(bad, Buffer.from('x')), AssertionFailure, JSON.stringify(bad));
    await assert.rejects(storage.readBuffer(bad), AssertionFailure, JSON.stringify(bad));
    await assert.rejects(storage.remove(bad), AssertionFailure, JSON.stringify(bad));
  }
  await assert.rejects(storage.write('d/.name.tmp-abc', Buffer.from('x')), AssertionFailure);
  await assert.rejects(storage.list('../'), AssertionFailure);
  await assert.rejects(storage.list('/abs/'), AssertionFailure);
  await assert.rejects(storage.removeTree(''), AssertionFailure);
  await assert.rejects(storage.removeTree('../'), AssertionFailure);
});

test('removeTree removes the directory itself and accepts a prefix without the trailing slash', async () => {
  const { storage, root } = fresh();
  await storage.write('backup/20240101/a', Buffer.from('a'));
  await storage.write('backup/20240102/b', Buffer.from('b'));
  await storage.removeTree('backup/20240101');
  assert.deepEqual(await fsp.readdir(path.join(root, 'backup')), ['20240102']);
  assert.deepEqual(await storage.list(''), [{ path: 'backup/20240102/b', size: 1 }]);
});
