// Unit tests of the worker pool: results of every task, workers started ahead of their tasks, the first failure
// stopping the rest, a failing setup, and an unused pool ending its threads.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { WorkerPool, runPool } from './worker-pool.js';

let dir: string;
let script: URL;

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pgpilot-pool-'));
  const file = path.join(dir, 'double.mjs');
  // Doubles numbers; fails on 13; a setup given {broken: true} fails; the final value counts the tasks it did.
  await fs.writeFile(file, [
    `import { serveWorker } from ${JSON.stringify(new URL('./worker-pool.js', import.meta.url).href)};`,
    'serveWorker(async (data) => {',
    "  if (data.broken) throw new Error('setup failed');",
    '  let done = 0;',
    "  return { handle: async (n) => { if (n === 13) throw new Error('unlucky'); done += 1; return n * 2; }, finish: async () => done };",
    '});',
  ].join('\n'));
  script = pathToFileURL(file);
});

after(() => fs.rm(dir, { recursive: true, force: true }));

test('every task runs once; each worker reports its final value', async () => {
  const results = new Map<number, number>();
  const finals = await runPool<number, number>({ script, workerData: () => ({}), jobs: 3, tasks: [1, 2, 3, 4, 5, 6, 7], onResult: (r, t) => results.set(t, r) });
  assert.deepEqual([...results].sort((a, b) => a[0] - b[0]), [[1, 2], [2, 4], [3, 6], [4, 8], [5, 10], [6, 12], [7, 14]]);
  assert.equal(finals.length, 3);
  assert.equal((finals as number[]).reduce((a, b) => a + b, 0), 7);
});

test('a pool started before its tasks are known runs them later', async () => {
  const pool = new WorkerPool<number, number>({ script, workerData: () => ({}), jobs: 2 });
  await new Promise((resolve) => setImmediate(resolve));
  const results: number[] = [];
  await pool.run([10, 20], (r) => results.push(r));
  assert.deepEqual(results.sort((a, b) => a - b), [20, 40]);
  assert.throws(() => pool.run([1], () => undefined), /runs once/);
});

test('a failing task rejects the run with its error', async () => {
  await assert.rejects(runPool<number, number>({ script, workerData: () => ({}), jobs: 2, tasks: [1, 13, 2, 3], onResult: () => undefined }), /unlucky/);
});

test('a worker whose setup fails rejects the run, also when started ahead', async () => {
  const pool = new WorkerPool<number, number>({ script, workerData: (i) => ({ broken: i === 1 }), jobs: 2 });
  await assert.rejects(pool.run([1, 2, 3], () => undefined), /setup failed/);
});

test('stop ends the threads of a pool never run', async () => {
  const pool = new WorkerPool<number, number>({ script, workerData: () => ({}), jobs: 2 });
  await pool.stop();
  assert.throws(() => pool.run([1], () => undefined), /runs once/);
});
