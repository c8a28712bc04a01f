// Unit tests of mapConcurrently: order kept, the limit held, the first error surfaces.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mapConcurrently } from './concurrency.js';

test('results come in item order, never more than the limit at once', async () => {
  let running = 0;
  let most = 0;
  const out = await mapConcurrently([5, 1, 4, 2, 3], 2, async (n) => {
    running += 1;
    most = Math.max(most, running);
    await new Promise((r) => setImmediate(r));
    running -= 1;
    return n * 10;
  });
  assert.deepEqual(out, [50, 10, 40, 20, 30]);
  assert.equal(most, 2);
  assert.deepEqual(await mapConcurrently([], 3, (n: number) => Promise.resolve(n)), []);
});

test('an error rejects the whole run', async () => {
  await assert.rejects(mapConcurrently([1, 2, 3], 2, (n) => (n === 2 ? Promise.reject(new Error('two')) : Promise.resolve(n))), /two/);
});
