// Unit tests of the WAL chain: following timelines, the end of the archive, gaps named.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PgpilotError } from '../base/errors.js';
import { parseLsn } from '../model/lsn.js';
import { walFileName } from '../model/wal.js';
import type { BackupManifest } from './backup-manifest.js';
import { backupsOnHistory, parseHistories, walChain, type WalName } from './wal-chain.js';

const seg = (tli: number, segNo: number): WalName => ({ name: walFileName(tli, BigInt(segNo)), kind: 'segment', tli, segNo: BigInt(segNo) });

test('a single timeline: every segment from the start to the last archived', () => {
  const chain = walChain([seg(1, 2), seg(1, 3), seg(1, 4)], new Map(), { tli: 1, startSegNo: 2n });
  assert.deepEqual(chain.segments, [walFileName(1, 2n), walFileName(1, 3n), walFileName(1, 4n)]);
  assert.equal(chain.endLsn, parseLsn('0/5000000'));
});

test('after a switch the chain continues on the new timeline, ignoring the old one\'s later segments', () => {
  const histories = parseHistories(new Map([[2, '1\t0/4000100\tno recovery target specified\n']]));
  const archived = [seg(1, 3), seg(1, 4), seg(1, 5), seg(2, 4), seg(2, 5)];
  const chain = walChain(archived, histories, { tli: 1, startSegNo: 3n });
  assert.equal(chain.timeline, 2);
  assert.deepEqual(chain.segments, [walFileName(1, 3n), walFileName(2, 4n), walFileName(2, 5n)]);
});

test('a missing segment with later ones archived is named', () => {
  assert.throws(() => walChain([seg(1, 2), seg(1, 4)], new Map(), { tli: 1, startSegNo: 2n }), (e: unknown) =>
    e instanceof PgpilotError && e.code === 'Archive' && e.message.includes(walFileName(1, 3n)));
});

test('an LSN target stops the walk at its segment', () => {
  const chain = walChain([seg(1, 2), seg(1, 3), seg(1, 4)], new Map(), { tli: 1, startSegNo: 2n }, 3n);
  assert.equal(chain.segments.length, 2);
});

test('backups on a timeline the newest one left after its switch point are not restored from', () => {
  const histories = parseHistories(new Map([[2, '1\t0/6000000\tbefore transaction 900\n']]));
  const backup = (label: string, timeline: number, stopLsn: string): BackupManifest => ({ label, timeline, stopLsn } as unknown as BackupManifest);
  const before = backup('A', 1, '0/3000100');
  const abandoned = backup('B', 1, '0/8000100');
  const after = backup('C', 2, '0/9000100');
  assert.deepEqual(backupsOnHistory([before, abandoned, after], histories, undefined).map((b) => b.label), ['A', 'C']);
  assert.throws(() => backupsOnHistory([before, abandoned, after], histories, 'B'), (e: unknown) =>
    e instanceof PgpilotError && e.code === 'Backup' && e.message.includes('backup B is on timeline 1'));
  assert.deepEqual(backupsOnHistory([before, abandoned], new Map(), undefined).map((b) => b.label), ['A', 'B'], 'one timeline: all');
});
