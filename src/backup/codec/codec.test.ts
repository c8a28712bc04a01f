// Unit tests of the stream codec: round trips, compatibility with the zstd/lz4/gzip tools, tampering, bounded memory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Readable, Writable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { PgpilotError } from '../../base/errors.js';
import { decodeBuffer, decoder, encodeBuffer, encoder, storedExtension, type CodecOptions } from './codec.js';
import type { CompressType } from './compress.js';

const TYPES: CompressType[] = ['zstd', 'lz4', 'gzip', 'none'];
const MiB = 1024 * 1024;
const key = randomBytes(32);
const opts = (type: CompressType, withKey: boolean, level = 0): CodecOptions => ({ compress: { type, level }, key: withKey ? key : undefined });
const isCode = (code: string, text?: RegExp) => (e: unknown): boolean =>
  e instanceof PgpilotError && e.code === code && (text === undefined || text.test(e.message));

/** Something like a pgbench table: 8 KiB pages of similar rows, with some incompressible pages among them. */
function tableLike(size: number): Buffer {
  const out = Buffer.alloc(size);
  for (let page = 0; page * 8192 < size; page++) {
    if (page % 4 === 3) {
      randomBytes(8192).copy(out, page * 8192);
      continue;
    }
    for (let row = 0; row < 60; row++) {
      const at = page * 8192 + 24 + row * 128;
      if (at + 128 > size) break;
      out.writeUInt32LE(page * 60 + row, at);
      out.writeInt32LE((row * 7919) % 5000, at + 8);
      out.write(' '.repeat(84), at + 24, 'latin1');
    }
  }
  return out;
}

/** Writes `data` into `stream` in pieces of random sizes up to `max`, and collects what comes out. */
async function throughInPieces(stream: Transform, data: Buffer, max: number): Promise<Buffer> {
  const pieces: Buffer[] = [];
  for (let at = 0; at < data.length; ) {
    const n = 1 + Math.floor(Math.random() * max);
    pieces.push(data.subarray(at, at + n));
    at += n;
  }
  const out: Buffer[] = [];
  await pipeline(Readable.from(pieces), stream, new Writable({ write: (c: Buffer, _e, cb) => (out.push(c), cb()) }));
  return Buffer.concat(out);
}

test('stored extensions', () => {
  assert.deepEqual(TYPES.map((t) => storedExtension(opts(t, false))), ['.zst', '.lz4', '.gz', '']);
  assert.deepEqual(TYPES.map((t) => storedExtension(opts(t, true))), ['.zst.enc', '.lz4.enc', '.gz.enc', '.enc']);
});

for (const type of TYPES) {
  for (const withKey of [false, true]) {
    const name = `${type}${withKey ? ' encrypted' : ''}`;

    test(`${name}: buffers round trip (random, compressible, empty, exactly one block)`, async () => {
      for (const data of [randomBytes(1.5 * MiB), tableLike(2.5 * MiB), Buffer.alloc(0), tableLike(MiB)]) {
        const stored = await encodeBuffer(opts(type, withKey), data);
        assert.deepEqual(await decodeBuffer(opts(type, withKey), stored, 'f'), data);
      }
    });

    test(`${name}: a buffer encoded at once decodes as a stream, and without a key equals the stream's encoding`, async () => {
      for (const data of [tableLike(2.5 * MiB), Buffer.alloc(0), tableLike(MiB)]) {
        const stored = await encodeBuffer(opts(type, withKey), data);
        assert.deepEqual(await throughInPieces(decoder(opts(type, withKey), 'f'), stored, 7000), data);
        if (!withKey) assert.deepEqual(stored, await throughInPieces(encoder(opts(type, false)), data, 5000));
      }
    });

    test(`${name}: streams round trip with many small writes and reads`, async () => {
      const data = Buffer.concat([tableLike(1.2 * MiB), randomBytes(100_000)]);
      const stored = await throughInPieces(encoder(opts(type, withKey)), data, 5000);
      assert.deepEqual(await throughInPieces(decoder(opts(type, withKey), 'f'), stored, 3000), data);
    });
  }
}

for (const type of ['zstd', 'lz4', 'gzip'] as const) {
  test(`${type}: a stored file decompresses with the ${type} tool, empty or of many frames`, async () => {
    for (const data of [tableLike(2.5 * MiB), Buffer.alloc(0)]) {
      const stored = await encodeBuffer(opts(type, false), data);
      assert.deepEqual(execFileSync(type, ['-d', '-c'], { input: stored, maxBuffer: 64 * MiB }), data);
    }
  });
}

test('an encrypted stream is sealed: a wrong key, a flipped byte anywhere or a cut are errors', async () => {
  const data = tableLike(2.2 * MiB);
  const stored = await encodeBuffer(opts('zstd', true), data);
  await assert.rejects(decodeBuffer({ ...opts('zstd', true), key: randomBytes(32) }, stored, 'base/1234'), isCode('Crypto', /cannot decrypt base\/1234: wrong passphrase or tampered data/));

  // Every byte of the header and of each record's length and tag, and a sample of the ciphertext.
  const positions: number[] = [];
  for (let at = 0; at < 17; at++) positions.push(at);
  const lengthFields = new Set<number>();
  for (let at = 17; at < stored.length; ) {
    const length = stored.readUInt32BE(at);
    for (let i = 0; i < 4; i++) lengthFields.add(at + i);
    for (let i = 0; i < 20; i++) positions.push(at + i);
    for (let i = 0; i < 40 && length > 0; i++) positions.push(at + 4 + Math.floor(Math.random() * length));
    at += 4 + length + 16;
    for (let i = 1; i <= 16; i++) positions.push(at - i);
  }
  for (const at of positions) {
    const damaged = Buffer.from(stored);
    damaged[at] = (damaged[at] ?? 0) ^ 0x10;
    // A length field made longer reads as a cut file, which is what it looks like.
    const cut = isCode('Corrupt', /truncated/);
    await assert.rejects(decodeBuffer(opts('zstd', true), damaged, 'f'), (e) => isCode('Crypto')(e) || (lengthFields.has(at) && cut(e)), `byte ${at}`);
  }
  for (const cut of [0, 10, 17, 1000, stored.length - 21, stored.length - 20, stored.length - 1]) {
    await assert.rejects(decodeBuffer(opts('zstd', true), stored.subarray(0, cut), 'f'), isCode('Corrupt', /f is truncated/), `cut at ${cut}`);
  }
});

test('an unencrypted stream: a cut is Corrupt (truncated), a damaged frame is Corrupt', async () => {
  for (const type of ['zstd', 'lz4', 'gzip'] as const) {
    const stored = await encodeBuffer(opts(type, false), tableLike(1.5 * MiB));
    await assert.rejects(decodeBuffer(opts(type, false), stored.subarray(0, stored.length - 3), 'f'), isCode('Corrupt', /f is truncated: it ends inside a/));
    const damaged = Buffer.from(stored);
    damaged[stored.length - 100] = (damaged[stored.length - 100] ?? 0) ^ 0x01;
    await assert.rejects(decodeBuffer(opts(type, false), damaged, 'f'), isCode('Corrupt'));
    await assert.rejects(decodeBuffer(opts(type === 'zstd' ? 'lz4' : 'zstd', false), stored, 'f'), isCode('Corrupt', /cannot decompress f/));
  }
});

test('an invalid level fails when the encoder is made', () => {
  assert.throws(() => encoder(opts('zstd', true, 22)), isCode('Config'));
});

/** Peak RSS growth while `run` goes, sampled by `sample` calls. */
async function rssGrowth(run: (sample: () => void) => Promise<void>): Promise<number> {
  const base = process.memoryUsage().rss;
  let peak = base;
  await run(() => (peak = Math.max(peak, process.memoryUsage().rss)));
  return peak - base;
}

/** A sink that consumes slowly (one event-loop turn per chunk), sampling memory as it goes. */
const slowSink = (onChunk: (c: Buffer) => void): Writable =>
  new Writable({ highWaterMark: MiB, write: (c: Buffer, _e, cb) => (onChunk(c), setImmediate(cb)) });

test('the encoder takes bounded memory: 200 MiB through it grow RSS by less than 64 MiB', async () => {
  const piece = tableLike(64 * 1024);
  let sent = 0;
  let written = 0;
  let held = 0;
  const stream = encoder(opts('zstd', true));
  const growth = await rssGrowth((sample) =>
    pipeline(
      new Readable({ read() { this.push(sent++ < 3200 ? piece : null); } }),
      stream,
      slowSink((c) => {
        written += c.length;
        held = Math.max(held, stream.readableLength + stream.writableLength);
        sample();
      }),
    ),
  );
  assert.ok(written > 0 && sent > 3200);
  assert.ok(held < 4 * MiB, `the encoder held ${held} bytes`);
  assert.ok(growth < 64 * MiB, `RSS grew by ${growth} bytes`);
});

test('the decoder takes bounded memory: 512 MiB of zeros from a few KiB stay under 2 frames in flight', async () => {
  const zeros = Buffer.alloc(MiB);
  let made = 0;
  const stored: Buffer[] = [];
  await pipeline(new Readable({ read() { this.push(made++ < 512 ? zeros : null); } }), encoder(opts('zstd', false)), slowSink((c) => stored.push(c)));
  const input = Buffer.concat(stored);
  assert.ok(input.length < 100 * 1024);
  let out = 0;
  let held = 0;
  const stream = decoder(opts('zstd', false), 'zeros');
  const growth = await rssGrowth((sample) =>
    pipeline(Readable.from([input]), stream, slowSink((c) => {
      out += c.length;
      held = Math.max(held, stream.readableLength);
      sample();
    })),
  );
  assert.equal(out, 512 * MiB);
  assert.ok(held <= 2 * MiB, `the decoder held ${held} bytes`);
  assert.ok(growth < 128 * MiB, `RSS grew by ${growth} bytes`);
});
