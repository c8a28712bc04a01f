// Unit tests of the encrypted record stream: round trips, and detection of truncation, reordering, appending, tampering.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { PgpilotError } from '../../base/errors.js';
import { Decryptor, Sealer } from './crypt.js';

const key = randomBytes(32);
const isCode = (code: string, text?: RegExp) => (e: unknown): boolean =>
  e instanceof PgpilotError && e.code === code && (text === undefined || text.test(e.message));

/** A sealed stream of `chunks`, as separate buffers per record (header included in the first). */
function sealRecords(chunks: Buffer[]): Buffer[] {
  const sealer = new Sealer(key);
  return [...chunks.map((c) => Buffer.concat(sealer.seal(c))), Buffer.concat(sealer.end())];
}

/** Decrypts `stored` fed in pieces of `step` bytes, as the decoder does; returns the plaintext of every record. */
function open(stored: Buffer, step = stored.length, withKey = key): Buffer[] {
  const decryptor = new Decryptor(withKey, 'test.enc');
  const out: Buffer[] = [];
  let pending = Buffer.alloc(0);
  for (let at = 0; at < stored.length; at += step) {
    pending = Buffer.concat([pending, stored.subarray(at, at + step)]);
    for (let record = decryptor.next(pending); record !== undefined; record = decryptor.next(pending)) {
      out.push(record.plain);
      pending = pending.subarray(record.used);
    }
  }
  decryptor.end();
  return out;
}

test('records round trip in any input chunking, and the final record is the only empty one', () => {
  const chunks = [randomBytes(1000), randomBytes(1), randomBytes(70_000)];
  const stored = Buffer.concat(sealRecords(chunks));
  assert.equal(stored.subarray(0, 5).toString('latin1'), 'PGPE\x01');
  assert.equal(stored.length, 17 + chunks.reduce((n, c) => n + 4 + c.length + 16, 0) + 20);
  for (const step of [stored.length, 1, 7, 4096]) assert.deepEqual(open(stored, step), [...chunks, Buffer.alloc(0)]);
});

test('an empty stream is a header and one final empty record', () => {
  const stored = Buffer.concat(new Sealer(key).end());
  assert.equal(stored.length, 17 + 4 + 16);
  assert.deepEqual(open(stored), [Buffer.alloc(0)]);
});

test('every stream has its own nonce base', () => {
  const a = Buffer.concat(new Sealer(key).seal(Buffer.from('same')));
  const b = Buffer.concat(new Sealer(key).seal(Buffer.from('same')));
  assert.notDeepEqual(a.subarray(5, 17), b.subarray(5, 17));
  assert.notDeepEqual(a.subarray(17), b.subarray(17));
});

test('a wrong key is a Crypto error naming the file', () => {
  const stored = Buffer.concat(sealRecords([randomBytes(100)]));
  assert.throws(() => open(stored, stored.length, randomBytes(32)), (e) =>
    isCode('Crypto', /^cannot decrypt test\.enc: wrong passphrase or tampered data/)(e) && (e as PgpilotError).hint !== undefined);
});

test('a stream cut anywhere is an error; cut at a record boundary or inside a record it is Corrupt (truncated)', () => {
  const records = sealRecords([randomBytes(300), randomBytes(200)]);
  const stored = Buffer.concat(records);
  const withoutFinal = Buffer.concat(records.slice(0, -1));
  assert.throws(() => open(withoutFinal), isCode('Corrupt', /test\.enc is truncated/));
  assert.throws(() => open(stored.subarray(0, 100)), isCode('Corrupt', /truncated/));
  assert.throws(() => open(Buffer.alloc(0)), isCode('Corrupt', /truncated/));
  for (let cut = 0; cut < stored.length; cut++) assert.throws(() => open(stored.subarray(0, cut)), PgpilotError);
});

test('reordered, dropped or appended records fail authentication', () => {
  const [first, second, third, final] = sealRecords([randomBytes(50), randomBytes(60), randomBytes(70)]) as [Buffer, Buffer, Buffer, Buffer];
  const crypto = isCode('Crypto');
  assert.throws(() => open(Buffer.concat([first, third, second, final])), crypto);
  assert.throws(() => open(Buffer.concat([first, third, final])), crypto);
  assert.throws(() => open(Buffer.concat([first, second, third, final, final])), crypto);
  assert.throws(() => open(Buffer.concat([first, second, third, final, Buffer.from('x')])), isCode('Crypto', /follows the final record/));
  const other = sealRecords([randomBytes(50)]);
  assert.throws(() => open(Buffer.concat([first, (other[1] as Buffer)])), crypto);
});

test('a flipped bit anywhere outside the length fields is a Crypto error', () => {
  const stored = Buffer.concat(sealRecords([randomBytes(40), randomBytes(30)]));
  const lengthFields = new Set([17, 18, 19, 20, 17 + 60, 17 + 61, 17 + 62, 17 + 63, 17 + 60 + 50, 17 + 60 + 51, 17 + 60 + 52, 17 + 60 + 53]);
  for (let at = 0; at < stored.length; at++) {
    for (const bit of [0x01, 0x80]) {
      const damaged = Buffer.from(stored);
      damaged[at] = (damaged[at] ?? 0) ^ bit;
      // A longer length field reads like a cut file: Corrupt (truncated) is the honest answer there.
      const expected = lengthFields.has(at) ? (e: unknown) => isCode('Crypto')(e) || isCode('Corrupt', /truncated/)(e) : isCode('Crypto');
      assert.throws(() => open(damaged), expected, `byte ${at} bit ${bit}`);
    }
  }
});

test('a record length over the limit is refused before buffering it', () => {
  const stored = Buffer.concat(sealRecords([randomBytes(10)]));
  stored.writeUInt32BE(0x7fffffff, 17);
  assert.throws(() => open(stored.subarray(0, 30)), isCode('Crypto', /declares 2147483647 bytes/));
});
