// Unit tests of compression frames: levels, frame boundaries, and refusal of damaged or foreign frames.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { PgpilotError } from '../../base/errors.js';
import { compressChunk, compressExtension, decompressFrame, frameLength, resolveLevel, type CompressType } from './compress.js';

const TYPES: CompressType[] = ['zstd', 'lz4', 'gzip', 'none'];
const FRAMED = ['zstd', 'lz4', 'gzip'] as const;
const compressible = (n: number): Buffer => Buffer.alloc(n, 'INSERT INTO pgbench_history VALUES (1, 2, 3, -4000); ');
const isCode = (code: string, text?: RegExp) => (e: unknown): boolean =>
  e instanceof PgpilotError && e.code === code && (text === undefined || text.test(e.message));

/** Cuts `stored` into frames with frameLength and decompresses each, as the decoder does. */
function decodeFrames(type: CompressType, stored: Buffer): Buffer {
  const out: Buffer[] = [];
  let rest = stored;
  while (rest.length > 0) {
    const length = frameLength(type, rest, 'test file');
    assert.ok(length !== undefined, 'a whole frame');
    out.push(decompressFrame(type, rest.subarray(0, length), 'test file'));
    rest = rest.subarray(length);
  }
  return Buffer.concat(out);
}

test('level 0 means the default, and out-of-range levels are Config errors naming the range', () => {
  assert.deepEqual(TYPES.map((t) => resolveLevel(t, 0)), [1, 1, 6, 0]);
  assert.equal(resolveLevel('zstd', 19), 19);
  assert.equal(resolveLevel('gzip', 1), 1);
  assert.throws(() => resolveLevel('zstd', 20), isCode('Config', /level 20 is out of range for zstd \(1 to 19\)/));
  assert.throws(() => resolveLevel('gzip', 10), isCode('Config', /1 to 9/));
  assert.throws(() => resolveLevel('lz4', 9), (e) => isCode('Config')(e) && /only its fast level/.test((e as PgpilotError).hint ?? ''));
  assert.throws(() => resolveLevel('none', 3), isCode('Config'));
  assert.throws(() => resolveLevel('zstd', 1.5), isCode('Config'));
  assert.throws(() => compressChunk('zstd', -1, Buffer.alloc(1)), isCode('Config'));
});

test('extensions', () => {
  assert.deepEqual(TYPES.map(compressExtension), ['.zst', '.lz4', '.gz', '']);
});

for (const type of FRAMED) {
  test(`${type}: concatenated frames decode by frame, and with the ${type} tool`, () => {
    const blocks = [compressible(1 << 20), randomBytes(300_000), Buffer.alloc(0), compressible(1000)];
    const stored = Buffer.concat(blocks.map((b) => compressChunk(type, 0, b)));
    assert.deepEqual(decodeFrames(type, stored), Buffer.concat(blocks));
    const tool = execFileSync(type, ['-d', '-c'], { input: stored, maxBuffer: 1 << 26 });
    assert.deepEqual(tool, Buffer.concat(blocks));
  });

  test(`${type}: frameLength waits for a whole frame and ignores what follows it`, () => {
    const frame = compressChunk(type, 0, randomBytes(200_000));
    for (let cut = 0; cut < frame.length; cut += cut < 64 ? 1 : 997) {
      assert.equal(frameLength(type, frame.subarray(0, cut), 'f'), undefined, `prefix of ${cut} bytes`);
    }
    assert.equal(frameLength(type, Buffer.concat([frame, compressChunk(type, 0, Buffer.from('next'))]), 'f'), frame.length);
  });

  test(`${type}: garbage, or a damaged frame, is Corrupt`, () => {
    assert.throws(() => frameLength(type, randomBytes(64), 'f.bin'), isCode('Corrupt', /cannot decompress f\.bin/));
    const frame = compressChunk(type, 0, compressible(100_000));
    const damaged = Buffer.from(frame);
    const at = Math.floor(damaged.length / 2);
    damaged[at] = (damaged[at] ?? 0) ^ 0x55;
    assert.throws(() => decompressFrame(type, damaged, 'f.bin'), isCode('Corrupt', /cannot decompress f\.bin/));
  });
}

test('gzip members carry their length, so a member from the gzip tool is not taken for one of ours', () => {
  const foreign = execFileSync('gzip', ['-c'], { input: compressible(5000) });
  assert.throws(() => frameLength('gzip', foreign, 'f.gz'), isCode('Corrupt', /no gzip member with its length/));
  const ours = compressChunk('gzip', 9, compressible(5000));
  assert.equal(frameLength('gzip', ours, 'f.gz'), ours.length);
});

test('none: a frame is the data itself', () => {
  const data = randomBytes(100);
  assert.equal(compressChunk('none', 0, data), data);
  assert.equal(frameLength('none', data, 'f'), 100);
  assert.equal(frameLength('none', Buffer.alloc(0), 'f'), undefined);
  assert.equal(decompressFrame('none', data, 'f'), data);
});
