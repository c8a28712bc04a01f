// Unit tests of WAL file naming, segment maths and timeline history parsing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PgpilotError } from '../base/errors.js';
import { parseLsn } from './lsn.js';
import {
  compareSegmentNames,
  historyFileName,
  nextSegment,
  parseSegmentName,
  parseTimelineHistory,
  parseWalFileName,
  segmentName,
  segmentStartLsn,
  segmentTimeline,
  segmentsBetween,
  walFileName,
} from './wal.js';

const mib64 = 64 * 1024 * 1024;

test('segmentName follows XLogFileName for 16 MiB segments', () => {
  assert.equal(segmentName(1, parseLsn('0/3000060')), '000000010000000000000003');
  assert.equal(segmentName(1, parseLsn('16/B374D848')), '0000000100000016000000B3');
  assert.equal(segmentName(0x1a, parseLsn('0/FFFFFFFF')), '0000001A00000000000000FF');
  assert.equal(segmentName(2, parseLsn('1/0')), '000000020000000100000000');
});

test('segmentName honours another segment size', () => {
  assert.equal(segmentName(1, parseLsn('1/C0000000'), mib64), '000000010000000100000030');
  assert.equal(segmentName(1, parseLsn('0/FFFFFFFF'), mib64), '00000001000000000000003F');
  assert.equal(walFileName(3, 64n + 5n, mib64), '000000030000000100000005');
});

test('parseWalFileName classifies every WAL archive file kind', () => {
  assert.deepEqual(parseWalFileName('0000000100000016000000B3'), { kind: 'segment', tli: 1, segNo: 0x16b3n });
  assert.deepEqual(parseWalFileName('000000020000000000000005.partial'), { kind: 'partial', tli: 2, segNo: 5n });
  assert.deepEqual(parseWalFileName('000000010000000000000002.00000028.backup'), {
    kind: 'backup-history',
    tli: 1,
    segNo: 2n,
  });
  assert.deepEqual(parseWalFileName('00000002.history'), { kind: 'history', tli: 2 });
  assert.deepEqual(parseWalFileName('000000010000000100000030', mib64), { kind: 'segment', tli: 1, segNo: 64n + 48n });
});

test('parseWalFileName rejects names that are not WAL files', () => {
  for (const name of [
    '',
    'archive_status',
    '0000000100000016000000b3', // lowercase
    '0000000100000016000000B', // too short
    '0000000100000016000000B3.ready',
    '000000000000000000000003', // timeline 0
    '000000010000000000000100', // segment part past 0xFF for 16 MiB segments
    '00000001.history.tmp',
    'x00000001.history',
  ]) {
    assert.equal(parseWalFileName(name), undefined, name);
  }
  assert.equal(parseWalFileName('000000010000000000000040', mib64), undefined);
});

test('walFileName and parseWalFileName round-trip', () => {
  for (const segNo of [0n, 1n, 255n, 256n, 0x16b3n, 0xffffffffn * 256n + 255n]) {
    assert.deepEqual(parseWalFileName(walFileName(7, segNo)), { kind: 'segment', tli: 7, segNo });
  }
});

test('nextSegment crosses the log boundary', () => {
  assert.equal(nextSegment('000000010000000000000003'), '000000010000000000000004');
  assert.equal(nextSegment('0000000100000000000000FF'), '000000010000000100000000');
  assert.equal(nextSegment('00000001000000000000003F', mib64), '000000010000000100000000');
});

test('segment-only helpers throw an Archive error on other names', () => {
  assert.throws(
    () => nextSegment('00000002.history'),
    (e: unknown) => e instanceof PgpilotError && e.code === 'Archive' && /not a WAL segment name/.test(e.message),
  );
  assert.throws(() => parseSegmentName('000000010000000000000003.partial'), PgpilotError);
  assert.throws(() => segmentStartLsn('nope'), PgpilotError);
});

test('segmentStartLsn is the first byte of the segment', () => {
  assert.equal(segmentStartLsn('0000000100000016000000B3'), parseLsn('16/B3000000'));
  assert.equal(segmentStartLsn('000000010000000100000030', mib64), parseLsn('1/C0000000'));
});

test('segmentsBetween lists both ends', () => {
  assert.deepEqual(segmentsBetween(1, parseLsn('0/2000028'), parseLsn('0/2000100')), ['000000010000000000000002']);
  assert.deepEqual(segmentsBetween(2, parseLsn('0/FE000028'), parseLsn('1/1000000')), [
    '0000000200000000000000FE',
    '0000000200000000000000FF',
    '000000020000000100000000',
    '000000020000000100000001',
  ]);
  assert.throws(() => segmentsBetween(1, parseLsn('0/3000000'), parseLsn('0/2000000')), /ends before it starts/);
});

test('compareSegmentNames orders by segment number, then timeline', () => {
  const names = ['000000030000000000000002', '000000010000000000000005', '000000020000000000000002', '0000000100000001000000AA'];
  assert.deepEqual([...names].sort((a, b) => compareSegmentNames(a, b)), [
    '000000020000000000000002',
    '000000030000000000000002',
    '000000010000000000000005',
    '0000000100000001000000AA',
  ]);
  assert.equal(compareSegmentNames('000000010000000000000005', '000000010000000000000005'), 0);
});

test('historyFileName pads the timeline in hex', () => {
  assert.equal(historyFileName(2), '00000002.history');
  assert.equal(historyFileName(26), '0000001A.history');
});

const history3 = '1\t0/3000158\tno recovery target specified\n\n2\t0/5000000\tbefore 2000-01-01 00:00:00+00\n';

test('parseTimelineHistory reads what PostgreSQL writes', () => {
  assert.deepEqual(parseTimelineHistory(history3), [
    { tli: 1, switchLsn: parseLsn('0/3000158'), reason: 'no recovery target specified' },
    { tli: 2, switchLsn: parseLsn('0/5000000'), reason: 'before 2000-01-01 00:00:00+00' },
  ]);
  assert.deepEqual(parseTimelineHistory('# comment\n  \n1\t0/3000158\n'), [{ tli: 1, switchLsn: 0x3000158n, reason: '' }]);
  assert.deepEqual(parseTimelineHistory(''), []);
});

test('parseTimelineHistory names the line of a corrupt file', () => {
  const corrupt = (text: string, what: RegExp) =>
    assert.throws(
      () => parseTimelineHistory(text, '00000003.history'),
      (e: unknown) => e instanceof PgpilotError && e.code === 'Corrupt' && what.test(e.message) && e.hint !== undefined,
    );
  corrupt('x\t0/1\tr', /00000003\.history line 1: expected a numeric timeline ID/);
  corrupt('1\n', /line 1: expected a switch point LSN/);
  corrupt('1\tnot-lsn\treason', /expected a switch point LSN/);
  corrupt('2\t0/1\ta\n1\t0/2\tb', /line 2: timeline IDs must be in increasing sequence/);
});

test('segmentTimeline picks the timeline recovery reads each segment from', () => {
  const history = parseTimelineHistory(history3);
  assert.equal(segmentTimeline(history, 3, 2n), 1);
  assert.equal(segmentTimeline(history, 3, 3n), 2); // holds the switch to timeline 2: read from timeline 2
  assert.equal(segmentTimeline(history, 3, 4n), 2);
  assert.equal(segmentTimeline(history, 3, 5n), 3);
  assert.equal(segmentTimeline([], 1, 99n), 1);
});
