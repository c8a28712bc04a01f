// The contract every Storage driver must pass, registered as node:test tests; each test gets a fresh, empty storage.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer as collect } from 'node:stream/consumers';
import { describe, test } from 'node:test';
import { AssertionFailure, PgpilotError } from '../../src/base/errors.js';
import type { Storage } from '../../src/storage/storage.js';

export type OpenStorage = () => Promise<{ storage: Storage; cleanup(): Promise<void> }>;

const MiB = 1024 * 1024;

/** Deterministic pseudo-random bytes: chunk `i` of a stream is a function of (seed, i). */
function chunk(seed: string, i: number, size: number): Buffer {
  const out = Buffer.alloc(size);
  const block = createHash('sha256').update(`${seed}:${i}`).digest();
  for (let off = 0; off < size; off += block.length) block.copy(out, off);
  out.writeUInt32BE(i, 0);
  return out;
}

/** A stream of `chunks` chunks of `size` bytes, and the sha256 of its content. */
function bigStream(seed: string, chunks: number, size: number): { stream: Readable; sha256: string } {
  const hash = createHash('sha256');
  for (let i = 0; i < chunks; i++) hash.update(chunk(seed, i, size));
  const stream = Readable.from((function* () {
    for (let i = 0; i < chunks; i++) yield chunk(seed, i, size);
  })());
  return { stream, sha256: hash.digest('hex') };
}

function isCode(code: string): (e: unknown) => boolean {
  return (e) => {
    assert.ok(e instanceof PgpilotError, `expected a PgpilotError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return true;
  };
}

async function readText(storage: Storage, path: string): Promise<string> {
  return (await collect(await storage.read(path))).toString('utf8');
}

async function paths(storage: Storage, prefix: string): Promise<string[]> {
  return (await storage.list(prefix)).map((o) => o.path);
}

/** Registers the storage contract tests under `name`; `open` gives a fresh, empty storage and its cleanup. */
export function storageContract(name: string, open: OpenStorage): void {
  async function withStorage(fn: (s: Storage) => Promise<void>): Promise<void> {
    const opened = await open();
    try {
      await fn(opened.storage);
    } finally {
      await opened.cleanup();
    }
  }

  describe(`storage contract: ${name}`, () => {
    test('an empty storage lists nothing, under any prefix', () =>
      withStorage(async (s) => {
        assert.deepEqual(await s.list(''), []);
        assert.deepEqual(await s.list('a/'), []);
        assert.deepEqual(await s.list('a'), []);
      }));

    test('writes a buffer and reads it back as a stream, a buffer and a stat', () =>
      withStorage(async (s) => {
        const data = Buffer.from('hello, repository\n');
        await s.write('dir/sub/hello.txt', data);
        assert.deepEqual(await collect(await s.read('dir/sub/hello.txt')), data);
        assert.deepEqual(await s.readBuffer('dir/sub/hello.txt'), data);
        assert.deepEqual(await s.stat('dir/sub/hello.txt'), { path: 'dir/sub/hello.txt', size: data.length });
        assert.deepEqual(await s.list(''), [{ path: 'dir/sub/hello.txt', size: data.length }]);
      }));

    test('writes a stream of several chunks', () =>
      withStorage(async (s) => {
        await s.write('stream/a', Readable.from([Buffer.from('one '), Buffer.from('two '), Buffer.from('three')]));
        assert.equal(await readText(s, 'stream/a'), 'one two three');
        assert.equal((await s.stat('stream/a'))?.size, 13);
      }));

    test('writes empty objects from a buffer and from a stream', () =>
      withStorage(async (s) => {
        await s.write('empty/buffer', Buffer.alloc(0));
        await s.write('empty/stream', Readable.from([]));
        assert.deepEqual(await s.list('empty/'), [
          { path: 'empty/buffer', size: 0 },
          { path: 'empty/stream', size: 0 },
        ]);
        assert.equal((await s.readBuffer('empty/stream')).length, 0);
      }));

    test('writes a 20 MiB stream (multipart on s3) and reads the same bytes back', () =>
      withStorage(async (s) => {
        const { stream, sha256 } = bigStream('big', 20, MiB);
        await s.write('big/object', stream);
        assert.deepEqual(await s.stat('big/object'), { path: 'big/object', size: 20 * MiB });
        const hash = createHash('sha256');
        let size = 0;
        for await (const part of await s.read('big/object')) {
          hash.update(part as Buffer);
          size += (part as Buffer).length;
        }
        assert.equal(size, 20 * MiB);
        assert.equal(hash.digest('hex'), sha256);
      }));

    test('lists recursively, sorted, with paths relative to the root, by prefix', () =>
      withStorage(async (s) => {
        for (const p of ['c', 'b/2', 'a/x/2', 'ab', 'a/1', 'a.b', 'a/x/1']) await s.write(p, Buffer.from(p));
        assert.deepEqual(await paths(s, ''), ['a.b', 'a/1', 'a/x/1', 'a/x/2', 'ab', 'b/2', 'c']);
        assert.deepEqual(await paths(s, 'a/'), ['a/1', 'a/x/1', 'a/x/2']);
        assert.deepEqual(await paths(s, 'a'), ['a.b', 'a/1', 'a/x/1', 'a/x/2', 'ab']);
        assert.deepEqual(await paths(s, 'a/x'), ['a/x/1', 'a/x/2']);
        assert.deepEqual(await paths(s, 'a/x/1'), ['a/x/1']);
        assert.deepEqual(await paths(s, 'zzz/'), []);
        assert.deepEqual(await s.list('a/x/'), [
          { path: 'a/x/1', size: 5 },
          { path: 'a/x/2', size: 5 },
        ]);
      }));

    test('lists and removes more than a thousand objects (paginated listing, batched deletes)', () =>
      withStorage(async (s) => {
        const names = Array.from({ length: 1005 }, (_, i) => `many/${String(i).padStart(4, '0')}`);
        for (let i = 0; i < names.length; i += 25) {
          await Promise.all(names.slice(i, i + 25).map((n) => s.write(n, Buffer.from(n))));
        }
        await s.write('kept', Buffer.from('kept'));
        assert.deepEqual(await paths(s, 'many/'), names);
        await s.removeTree('many/');
        assert.deepEqual(await paths(s, ''), ['kept']);
      }));

    test('an overwrite replaces the whole object', () =>
      withStorage(async (s) => {
        await s.write('over', Buffer.from('a longer first version'));
        await s.write('over', Readable.from([Buffer.from('short')]));
        assert.equal(await readText(s, 'over'), 'short');
        assert.deepEqual(await s.list(''), [{ path: 'over', size: 5 }]);
      }));

    test('remove deletes one object and is idempotent', () =>
      withStorage(async (s) => {
        await s.write('r/1', Buffer.from('1'));
        await s.write('r/2', Buffer.from('2'));
        await s.remove('r/1');
        assert.equal(await s.stat('r/1'), undefined);
        assert.deepEqual(await paths(s, ''), ['r/2']);
        await s.remove('r/1');
        await s.remove('never/written');
        assert.deepEqual(await paths(s, ''), ['r/2']);
      }));

    test('removeTree removes everything under a directory prefix and nothing beside it', () =>
      withStorage(async (s) => {
        for (const p of ['t/1', 't/sub/2', 't/sub/deeper/3', 'tt/4', 't.5']) await s.write(p, Buffer.from(p));
        await s.removeTree('t/');
        assert.deepEqual(await paths(s, ''), ['t.5', 'tt/4']);
        await s.removeTree('t/');
        await s.removeTree('nothing/here/');
        assert.deepEqual(await paths(s, ''), ['t.5', 'tt/4']);
      }));

    test('a missing object: read and readBuffer reject with NotFound, stat gives undefined', () =>
      withStorage(async (s) => {
        await assert.rejects(s.read('missing/object'), isCode('NotFound'));
        await assert.rejects(s.readBuffer('missing/object'), isCode('NotFound'));
        assert.equal(await s.stat('missing/object'), undefined);
        await s.write('missing/other', Buffer.from('x'));
        await assert.rejects(s.readBuffer('missing'), isCode('NotFound'));
        assert.equal(await s.stat('missing'), undefined);
      }));

    test('a write whose stream fails rejects and leaves no object', () =>
      withStorage(async (s) => {
        const failing = Readable.from((function* () {
          yield Buffer.alloc(1024, 1);
          throw new Error('source broke');
        })());
        await assert.rejects(s.write('failed/object', failing), /source broke/);
        assert.equal(await s.stat('failed/object'), undefined);
        assert.deepEqual(await s.list(''), []);
      }));

    test('invalid paths are refused', () =>
      withStorage(async (s) => {
        for (const bad of ['', '/abs', 'a//b', 'a/../b', '..', './a', 'a/']) {
          await assert.rejects(s.write(bad, Buffer.from('x')), AssertionFailure, `write(${JSON.stringify(bad)})`);
          await assert.rejects(s.stat(bad), AssertionFailure, `stat(${JSON.stringify(bad)})`);
        }
        await assert.rejects(s.list('../'), AssertionFailure);
        await assert.rejects(s.removeTree(''), AssertionFailure);
        await assert.rejects(s.removeTree('/'), AssertionFailure);
      }));
  });
}
