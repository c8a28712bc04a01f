// Unit tests of the WAL chain: following timelines, the end of the archive, gaps named.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PgpilotError } from '../base/errors.js';
import { parseLsn } from '../model/lsn.js';
import { walFileName } from '../model/wal.js';
import { parseHistories, walChain, type WalName } from './wal-chain.js';

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
