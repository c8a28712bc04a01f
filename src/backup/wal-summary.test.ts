// Unit tests of the archiver's segment summaries on disk: unreadable or foreign files are not used, and pruning keeps
// the newest.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pruneSummaries, readSummary, summarizeFile } from './wal-summary.js';

let dir: string;
before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pgpilot-summary-'));
});
after(() => fs.rm(dir, { recursive: true, force: true }));

const summary = (wal: string, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ format: 1, wal, hash: '0123456789abcdef', records: 2, blocks: [['1663/5/16384/0', [3, 1]]], from: [['1663/5/16390/0', 4]], databases: [9], ...extra });

test('a summary reads back as the changes it holds', async () => {
  const wal = '000000010000000000000003';
  await fs.writeFile(path.join(dir, `${wal}.summary.json`), summary(wal));
  const s = await readSummary(dir, wal);
  assert.equal(s?.hash, '0123456789abcdef');
  assert.deepEqual([...(s?.changes.blocks.get('1663/5/16384/0') ?? [])], [3, 1]);
  assert.deepEqual([s?.changes.from.get('1663/5/16390/0'), [...(s?.changes.databases ?? [])], s?.changes.records], [4, [9], 2]);
});

test('a missing, damaged, foreign or newer-format summary is not used', async () => {
  assert.equal(await readSummary(dir, '000000010000000000000009'), undefined, 'missing');
  const wal = '000000010000000000000004';
  const file = path.join(dir, `${wal}.summary.json`);
  await fs.writeFile(file, summary(wal).slice(0, 40));
  assert.equal(await readSummary(dir, wal), undefined, 'cut short');
  await fs.writeFile(file, summary('000000010000000000000005'));
  assert.equal(await readSummary(dir, wal), undefined, 'of another segment');
  await fs.writeFile(file, summary(wal, { format: 2 }));
  assert.equal(await readSummary(dir, wal), undefined, 'a format this version does not know');
});

test('only WAL segment files of 16 MiB are summarized', async () => {
  const small = path.join(dir, '000000010000000000000006');
  await fs.writeFile(small, Buffer.alloc(8192));
  assert.equal(await summarizeFile(dir, small, '000000010000000000000006'), false, 'not of a segment\'s size');
  assert.equal(await summarizeFile(dir, small, '00000002.history'), false, 'not a segment');
  assert.equal(await summarizeFile(dir, path.join(dir, 'gone'), '000000010000000000000007'), false, 'gone');
});

test('pruning keeps the newest summaries', async () => {
  const sub = path.join(dir, 'prune');
  await fs.mkdir(sub);
  const names = ['000000010000000000000001', '000000010000000000000002', '000000020000000000000002', '000000020000000000000003'];
  for (const n of names) await fs.writeFile(path.join(sub, `${n}.summary.json`), summary(n));
  await fs.writeFile(path.join(sub, 'unrelated'), '');
  assert.equal(await pruneSummaries(sub, 2), 2);
  assert.deepEqual((await fs.readdir(sub)).sort(), ['000000020000000000000002.summary.json', '000000020000000000000003.summary.json', 'unrelated']);
  assert.equal(await pruneSummaries(path.join(dir, 'none'), 2), 0, 'no directory yet');
});
