// mergeDeltas on a real file: pages of later deltas win, the file grows and shrinks as the last delta says, damage is caught.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PgpilotError } from '../base/errors.js';
import { DeltaSource, mergeDeltas } from './delta-merge.js';
import { DeltaWriter, PAGE_SIZE } from './page-delta.js';

const page = (fill: number): Buffer => Buffer.alloc(PAGE_SIZE, fill);

/** A delta's bytes with these (block, fill) pages and the new size in blocks, and its SHA-256. */
function delta(pages: Array<[number, number]>, blocks: number): { bytes: Buffer; sha: string } {
  const w = new DeltaWriter();
  const bytes = Buffer.concat([w.header(), ...pages.flatMap(([b, fill]) => w.page(b, page(fill), 0)), w.trailer(blocks * PAGE_SIZE)]);
  return { bytes, sha: createHash('sha256').update(bytes).digest('hex') };
}

/** Chunks of odd sizes, as a decoder hands them out. */
async function* chunked(bytes: Buffer, size = 5000): AsyncGenerator<Buffer> {
  for (let at = 0; at < bytes.length; at += size) yield await Promise.resolve(bytes.subarray(at, at + size));
}

async function merge(base: Buffer | undefined, deltas: Array<{ bytes: Buffer; sha: string }>, blocks: number): Promise<{ file: Buffer; hashed: string }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pgpilot-merge-'));
  try {
    const file = path.join(dir, 'f');
    const fh = await open(file, 'w');
    const hash = createHash('sha256');
    try {
      const sources = deltas.map((d, i) => new DeltaSource(chunked(d.bytes, 3000 + i), `delta ${i}`, d.sha));
      await mergeDeltas(fh, blocks * PAGE_SIZE, base === undefined ? undefined : chunked(base), sources, (b) => hash.update(b));
    } finally {
      await fh.close();
    }
    const written = await readFile(file);
    return { file: written, hashed: hash.digest('hex') };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const fillOf = (file: Buffer, block: number): number | undefined => file[block * PAGE_SIZE];

test('the last delta holding a block wins, across windows; the file ends where the last delta says', async () => {
  const base = Buffer.concat(Array.from({ length: 300 }, (_, b) => page(b % 200)));
  const d1 = delta([[1, 201], [130, 202], [300, 203], [301, 204]], 302);
  const d2 = delta([[2, 205], [130, 206]], 301);
  const { file, hashed } = await merge(base, [d1, d2], 301);
  assert.equal(file.length, 301 * PAGE_SIZE);
  assert.deepEqual([0, 1, 2, 3, 129, 130, 131, 299, 300].map((b) => fillOf(file, b)), [0, 201, 205, 3, 129, 206, 131, 99, 203]);
  assert.equal(hashed, createHash('sha256').update(file).digest('hex'), 'the output callback saw every written byte in order');
});

test('a file without a base is built from its deltas alone', async () => {
  const { file } = await merge(undefined, [delta([[0, 7], [1, 8]], 2)], 2);
  assert.deepEqual([fillOf(file, 0), fillOf(file, 1), file.length], [7, 8, 2 * PAGE_SIZE]);
});

test('a damaged, unordered or mis-sized delta is refused', async () => {
  const base = Buffer.concat([page(1), page(2)]);
  const good = delta([[1, 9]], 2);
  const flipped = Buffer.from(good.bytes);
  flipped[20] = (flipped[20] ?? 0) ^ 1;
  const refusals: Array<[Array<{ bytes: Buffer; sha: string }>, number, RegExp]> = [
    [[{ bytes: flipped, sha: good.sha }], 2, /does not match its checksum/],
    [[delta([[1, 9], [0, 9]], 2)], 2, /block 0 comes after block 1/],
    [[good], 3, /ends the file at 16384 bytes, the manifest says 24576/],
  ];
  for (const [deltas, blocks, message] of refusals) {
    await assert.rejects(merge(base, deltas, blocks), (e: unknown) => e instanceof PgpilotError && e.code === 'Corrupt' && message.test(e.message));
  }
});
