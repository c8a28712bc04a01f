// Unit tests of the frame pool: buffers come back only from the pool itself, once, and are handed out again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FramePool } from './frame-pool.js';

test('a buffer given back is handed out again; others are not taken in', () => {
  const pool = new FramePool(1024);
  const a = pool.take(1024);
  const b = pool.take(100);
  assert.equal(b.length, 100);
  assert.notEqual(a.buffer, b.buffer, 'two buffers out at once do not share memory');
  pool.give(b);
  pool.give(b);
  const c = pool.take(512);
  assert.equal(c.buffer, b.buffer, 'the buffer given back is reused');
  const d = pool.take(512);
  assert.notEqual(d.buffer, b.buffer, 'given back twice, it is still handed out once');
  pool.give(Buffer.alloc(1024));
  assert.notEqual(pool.take(1024).buffer, a.buffer);
  const big = pool.take(4096);
  assert.equal(big.length, 4096, 'larger than a frame: a buffer of its own');
  pool.give(big);
  assert.notEqual(pool.take(1024).buffer, big.buffer, 'and it does not come back into the pool');
});
