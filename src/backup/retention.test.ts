// Unit tests of the backup expiry decision and of which archived WAL it frees.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decideExpiry, walToRemove, type RetainedBackup, type RetentionPolicy } from './retention.js';

const now = new Date('2024-06-30T12:00:00Z');
let seq = 0;

/** A backup started `daysAgo` days before `now`, lasting an hour, in the next WAL segment of timeline 1. */
function backup(
  label: string,
  type: RetainedBackup['type'],
  daysAgo: number,
  extra: Partial<Pick<RetainedBackup, 'status' | 'reference' | 'startWal'>> = {},
): RetainedBackup {
  seq++;
  const startTime = new Date(now.getTime() - daysAgo * 24 * 3600_000);
  return {
    label,
    type,
    status: 'complete',
    startTime,
    stopTime: new Date(startTime.getTime() + 3600_000),
    startWal: `0000000100000000000000${(0x10 + seq).toString(16).toUpperCase().padStart(2, '0')}`,
    ...extra,
  };
}

const count = (full: number, diff?: number): RetentionPolicy =>
  diff === undefined ? { full, fullType: 'count' } : { full, fullType: 'count', diff };
const days = (full: number): RetentionPolicy => ({ full, fullType: 'days' });
const labels = (d: ReturnType<typeof decideExpiry>): string[] => d.expire.map((e) => `${e.label}:${e.reason}`).sort();

test('count retention keeps the newest N complete fulls and expires dependents with their full', () => {
  const bs = [
    backup('F1', 'full', 30),
    backup('D1', 'diff', 29, { reference: 'F1' }),
    backup('I1', 'incr', 28, { reference: 'D1' }),
    backup('F2', 'full', 20),
    backup('I2', 'incr', 19, { reference: 'F2' }),
    backup('F3', 'full', 10),
    backup('D3', 'diff', 9, { reference: 'F3' }),
  ];
  const d = decideExpiry(bs, count(2), now);
  assert.deepEqual(labels(d), ['D1:dependency', 'F1:full-retention', 'I1:dependency']);
  assert.equal(d.keepWalFrom, bs[3]?.startWal);
  assert.deepEqual(labels(decideExpiry(bs, count(3), now)), []);
  assert.deepEqual(labels(decideExpiry(bs, count(1), now)), [
    'D1:dependency',
    'F1:full-retention',
    'F2:full-retention',
    'I1:dependency',
    'I2:dependency',
  ]);
});

test('the expire list is newest first and the input order does not matter', () => {
  const bs = [backup('F1', 'full', 30), backup('D1', 'diff', 29, { reference: 'F1' }), backup('F2', 'full', 20)];
  const d = decideExpiry([...bs].reverse(), count(1), now);
  assert.deepEqual(d.expire, [
    { label: 'D1', reason: 'dependency' },
    { label: 'F1', reason: 'full-retention' },
  ]);
});

test('days retention keeps fulls inside the window plus the newest full before it', () => {
  const bs = [
    backup('F1', 'full', 40),
    backup('I1', 'incr', 39, { reference: 'F1' }),
    backup('F2', 'full', 35),
    backup('I2', 'incr', 34, { reference: 'F2' }),
    backup('F3', 'full', 25),
    backup('F4', 'full', 5),
  ];
  // Window of 30 days: F3 and F4 lie inside it, F2 covers its start; F1 goes.
  assert.deepEqual(labels(decideExpiry(bs, days(30), now)), ['F1:full-retention', 'I1:dependency']);
  // Window of 10 days: F4 inside, F3 covers the start.
  assert.deepEqual(labels(decideExpiry(bs, days(10), now)), [
    'F1:full-retention',
    'F2:full-retention',
    'I1:dependency',
    'I2:dependency',
  ]);
  // Window of 60 days: nothing is old enough.
  assert.deepEqual(labels(decideExpiry(bs, days(60), now)), []);
});

test('days retention always keeps the newest complete full', () => {
  const bs = [backup('F1', 'full', 90), backup('F2', 'full', 80), backup('I2', 'incr', 79, { reference: 'F2' })];
  const d = decideExpiry(bs, days(7), now);
  assert.deepEqual(labels(d), ['F1:full-retention']);
  assert.equal(d.keepWalFrom, bs[1]?.startWal);
});

test('days retention ages a full from its stop time', () => {
  const f = backup('F1', 'full', 10);
  const long: RetainedBackup = { ...f, stopTime: new Date(now.getTime() - 6 * 24 * 3600_000) };
  const bs = [backup('F0', 'full', 20), long, backup('F2', 'full', 1)];
  // F1 finished 6 days ago: inside a 7-day window, so F0 still covers the window start.
  assert.deepEqual(labels(decideExpiry(bs, days(7), now)), []);
  assert.deepEqual(labels(decideExpiry(bs, days(5), now)), ['F0:full-retention']);
});

test('diff retention keeps the newest diffs; their incrs go with them', () => {
  const bs = [
    backup('F1', 'full', 10),
    backup('D1', 'diff', 9, { reference: 'F1' }),
    backup('I1', 'incr', 8.5, { reference: 'D1' }),
    backup('D2', 'diff', 8, { reference: 'F1' }),
    backup('I2', 'incr', 7.5, { reference: 'D2' }),
    backup('I3', 'incr', 7, { reference: 'I2' }),
    backup('D3', 'diff', 6, { reference: 'F1' }),
    backup('IF', 'incr', 5, { reference: 'D3' }),
  ];
  assert.deepEqual(labels(decideExpiry(bs, count(1, 1), now)), [
    'D1:diff-retention',
    'D2:diff-retention',
    'I1:dependency',
    'I2:dependency',
    'I3:dependency',
  ]);
  assert.deepEqual(labels(decideExpiry(bs, count(1, 2), now)), ['D1:diff-retention', 'I1:dependency']);
  assert.deepEqual(labels(decideExpiry(bs, count(1, 0), now)), []);
  assert.deepEqual(labels(decideExpiry(bs, count(1), now)), []);
});

test('diff retention counts diffs across fulls, after full retention', () => {
  const bs = [
    backup('F1', 'full', 20),
    backup('D1', 'diff', 19, { reference: 'F1' }),
    backup('F2', 'full', 10),
    backup('D2', 'diff', 9, { reference: 'F2' }),
    backup('D3', 'diff', 8, { reference: 'F2' }),
  ];
  assert.deepEqual(labels(decideExpiry(bs, count(2, 2), now)), ['D1:diff-retention']);
  // With F1 gone, D1 is not counted: D2 and D3 are the two kept.
  assert.deepEqual(labels(decideExpiry(bs, count(1, 2), now)), ['D1:dependency', 'F1:full-retention']);
});

test('incomplete and failed backups older than the newest complete one expire', () => {
  const bs = [
    backup('F1', 'full', 10),
    backup('X1', 'full', 9, { status: 'failed' }),
    backup('X2', 'diff', 8, { status: 'incomplete', reference: 'F1' }),
    backup('D1', 'diff', 7, { reference: 'F1' }),
    backup('X3', 'incr', 6, { status: 'incomplete', reference: 'D1' }),
  ];
  const d = decideExpiry(bs, count(2), now);
  // X3 is newer than the newest complete backup (D1): it may still be running or resumable.
  assert.deepEqual(labels(d), ['X1:incomplete', 'X2:incomplete']);
  assert.equal(d.keepWalFrom, bs[0]?.startWal);
});

test('an incomplete backup built on an expired full goes with it', () => {
  const bs = [backup('F1', 'full', 10), backup('F2', 'full', 5), backup('X', 'incr', 1, { status: 'incomplete', reference: 'F1' })];
  assert.deepEqual(labels(decideExpiry(bs, count(1), now)), ['F1:full-retention', 'X:dependency']);
});

test('never expires the newest complete backup or what it depends on', () => {
  // The newest complete backup is an incr on an old full that count retention would expire.
  const bs = [
    backup('F1', 'full', 10),
    backup('D1', 'diff', 9, { reference: 'F1' }),
    backup('F2', 'full', 5),
    backup('I1', 'incr', 1, { reference: 'D1' }),
  ];
  const d = decideExpiry(bs, count(1), now);
  assert.deepEqual(labels(d), []);
  const diffs = [backup('F', 'full', 10), backup('D1', 'diff', 9, { reference: 'F' }), backup('D2', 'diff', 8, { reference: 'F' })];
  diffs.push(backup('I', 'incr', 7, { reference: 'D1' }));
  assert.deepEqual(labels(decideExpiry(diffs, count(1, 1), now)), []);
});

test('no backups, only failed ones, and missing references', () => {
  assert.deepEqual(decideExpiry([], count(2), now), { expire: [], keepWalFrom: undefined });
  const failed = [backup('X1', 'full', 3, { status: 'failed' }), backup('X2', 'full', 2, { status: 'incomplete' })];
  assert.deepEqual(decideExpiry(failed, count(1), now).expire, []);
  const orphan = [backup('F1', 'full', 5), backup('I', 'incr', 4, { reference: 'gone' })];
  assert.deepEqual(labels(decideExpiry(orphan, count(1), now)), []);
});

test('keepWalFrom is the oldest start segment of the kept backups, by segment then timeline', () => {
  const bs = [
    backup('F1', 'full', 30, { startWal: '000000010000000000000020' }),
    backup('F2', 'full', 20, { startWal: '000000030000000000000031' }),
    backup('D2', 'diff', 19, { reference: 'F2', startWal: '000000020000000000000031' }),
    backup('F3', 'full', 10, { startWal: '000000030000000100000000' }),
  ];
  assert.equal(decideExpiry(bs, count(2), now).keepWalFrom, '000000020000000000000031');
  assert.equal(decideExpiry(bs, count(3), now).keepWalFrom, '000000010000000000000020');
});

test('rejects a policy that would keep no full', () => {
  assert.throws(() => decideExpiry([], count(0), now), /retention full must be a positive integer/);
});

test('walToRemove removes segments below the cutoff on every timeline, never history files', () => {
  const names = [
    '00000001.history',
    '00000002.history',
    '000000010000000000000030',
    '000000010000000000000031.partial',
    '000000020000000000000031',
    '000000020000000000000032',
    '000000010000000000000030.00000028.backup',
    '000000020000000000000032.00000028.backup',
    '000000030000000000000040',
    'garbage.txt',
  ];
  assert.deepEqual(walToRemove(names, '000000020000000000000032'), [
    '000000010000000000000030',
    '000000010000000000000031.partial',
    '000000020000000000000031',
    '000000010000000000000030.00000028.backup',
  ]);
  assert.deepEqual(walToRemove(names, undefined), []);
  assert.deepEqual(walToRemove(names, '000000010000000000000001'), []);
  assert.deepEqual(walToRemove(['000000010000000000000030'], '000000010000000100000000', 64 * 1024 * 1024), [
    '000000010000000000000030',
  ]);
  assert.throws(() => walToRemove(names, '00000002.history'), /not a WAL segment name/);
});
