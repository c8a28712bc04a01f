// Unit tests of the backup replica method's safety check: the archive must reach where the leader's slot holds WAL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { archiveReaches } from './replica-from-backup.js';

const seg = 16n * 1024n * 1024n;
const chain = (timeline: number, endSegNo: bigint): { timeline: number; segments: string[]; endLsn: bigint } => ({ timeline, segments: [], endLsn: endSegNo * seg });

test('the archive reaches the slot once it ends at or past the start of the segment the slot holds', () => {
  assert.equal(archiveReaches(chain(1, 5n), { lsn: 5n * seg + 100n, timeline: 1 }), true, 'the slot holds segment 5, the archive ends at its start');
  assert.equal(archiveReaches(chain(1, 7n), { lsn: 5n * seg, timeline: 1 }), true, 'the archive goes past the slot');
  assert.equal(archiveReaches(chain(1, 5n), { lsn: 6n * seg, timeline: 1 }), false, 'segment 5 is neither archived nor held');
});

test('an archive on another timeline than the leader never reaches it', () => {
  assert.equal(archiveReaches(chain(1, 9n), { lsn: 5n * seg, timeline: 2 }), false, 'the history file of timeline 2 is not archived yet');
  assert.equal(archiveReaches(chain(3, 9n), { lsn: 5n * seg, timeline: 2 }), false);
});
