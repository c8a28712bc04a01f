// Unit tests of cron parsing, next fire times (UTC) and the "is a run due" check.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PgpilotError } from '../base/errors.js';
import { firesBetween, nextFire, parseCron } from './cron.js';

const at = (iso: string): Date => new Date(iso);
const next = (expr: string, after: string): string => nextFire(parseCron(expr, 'test'), at(after)).toISOString();
const sorted = (s: ReadonlySet<number>): number[] => [...s].sort((a, b) => a - b);

test('parses numbers, ranges, steps, lists and names', () => {
  const c = parseCron(' */15 0-6/2 1,15,20-22 jan-MAR,Dec mon-FRI ', 'f');
  assert.deepEqual(sorted(c.minute), [0, 15, 30, 45]);
  assert.deepEqual(sorted(c.hour), [0, 2, 4, 6]);
  assert.deepEqual(sorted(c.dayOfMonth), [1, 15, 20, 21, 22]);
  assert.deepEqual(sorted(c.month), [1, 2, 3, 12]);
  assert.deepEqual(sorted(c.dayOfWeek), [1, 2, 3, 4, 5]);
  assert.equal(c.source, '*/15 0-6/2 1,15,20-22 jan-MAR,Dec mon-FRI');
  assert.deepEqual(sorted(parseCron('10-50/20 * * * *', 'f').minute), [10, 30, 50]);
});

test('7 is Sunday, and ranges may end on it', () => {
  assert.deepEqual(sorted(parseCron('0 0 * * 7', 'f').dayOfWeek), [0]);
  assert.deepEqual(sorted(parseCron('0 0 * * 5-7', 'f').dayOfWeek), [0, 5, 6]);
  assert.deepEqual(sorted(parseCron('0 0 * * *', 'f').dayOfWeek), [0, 1, 2, 3, 4, 5, 6]);
  assert.equal(next('0 0 * * 7', '2024-08-31T12:00:00Z'), '2024-09-01T00:00:00.000Z');
});

test('a day field is restricted unless it starts with *', () => {
  const both = parseCron('0 0 13 * FRI', 'f');
  assert.equal(both.dayOfMonthRestricted && both.dayOfWeekRestricted, true);
  const stepped = parseCron('0 0 */10 * FRI', 'f');
  assert.equal(stepped.dayOfMonthRestricted, false);
});

test('macros expand to their schedules', () => {
  assert.equal(next('@hourly', '2024-05-10T10:59:59Z'), '2024-05-10T11:00:00.000Z');
  assert.equal(next('@daily', '2024-05-10T10:00:00Z'), '2024-05-11T00:00:00.000Z');
  assert.equal(next('@midnight', '2024-05-10T10:00:00Z'), '2024-05-11T00:00:00.000Z');
  assert.equal(next('@weekly', '2024-09-04T10:00:00Z'), '2024-09-08T00:00:00.000Z');
  assert.equal(next('@monthly', '2024-01-31T00:00:00Z'), '2024-02-01T00:00:00.000Z');
  assert.equal(next('@YEARLY', '2024-06-01T00:00:00Z'), '2025-01-01T00:00:00.000Z');
  assert.equal(next('@annually', '2024-06-01T00:00:00Z'), '2025-01-01T00:00:00.000Z');
});

test('nextFire is strictly after, at minute resolution', () => {
  assert.equal(next('30 2 * * *', '2024-05-10T02:29:59.999Z'), '2024-05-10T02:30:00.000Z');
  assert.equal(next('30 2 * * *', '2024-05-10T02:30:00.000Z'), '2024-05-11T02:30:00.000Z');
  assert.equal(next('30 2 * * *', '2024-05-10T02:30:30.000Z'), '2024-05-11T02:30:00.000Z');
  assert.equal(next('* * * * *', '2024-05-10T10:41:00Z'), '2024-05-10T10:42:00.000Z');
  assert.equal(next('*/20 * * * *', '2024-05-10T10:41:00Z'), '2024-05-10T11:00:00.000Z');
});

test('nextFire rolls over days, months and years', () => {
  assert.equal(next('0 0 1 1 *', '2024-06-01T00:00:00Z'), '2025-01-01T00:00:00.000Z');
  assert.equal(next('59 23 31 12 *', '2024-12-31T23:59:00Z'), '2025-12-31T23:59:00.000Z');
  assert.equal(next('0 6 31 * *', '2024-04-01T00:00:00Z'), '2024-05-31T06:00:00.000Z');
  assert.equal(next('15 23 * * *', '2024-02-28T23:20:00Z'), '2024-02-29T23:15:00.000Z');
});

test('leap days fire only in leap years (and not in 2100)', () => {
  assert.equal(next('0 12 29 2 *', '2024-03-01T00:00:00Z'), '2028-02-29T12:00:00.000Z');
  assert.equal(next('0 12 29 2 *', '2096-03-01T00:00:00Z'), '2104-02-29T12:00:00.000Z');
});

test('both day fields restricted: either may match (OR rule)', () => {
  // 2024-09-01 is a Sunday; Fridays are the 6th, 13th, 20th.
  assert.equal(next('0 0 13 * FRI', '2024-09-01T00:00:00Z'), '2024-09-06T00:00:00.000Z');
  assert.equal(next('0 0 13 * FRI', '2024-09-06T00:00:00Z'), '2024-09-13T00:00:00.000Z');
  assert.equal(next('0 0 13 * FRI', '2024-09-13T00:00:00Z'), '2024-09-20T00:00:00.000Z');
  assert.equal(next('0 0 2 * MON', '2024-09-01T00:00:00Z'), '2024-09-02T00:00:00.000Z');
  assert.equal(next('0 0 30 2 MON', '2024-02-20T00:00:00Z'), '2024-02-26T00:00:00.000Z');
});

test('a starred day field means both must match (AND rule)', () => {
  // Days 1, 11, 21, 31 that are Fridays: none in September 2024, then 11 October.
  assert.equal(next('0 0 */10 * FRI', '2024-09-01T00:00:00Z'), '2024-10-11T00:00:00.000Z');
  assert.equal(next('0 0 15 * *', '2024-09-16T00:00:00Z'), '2024-10-15T00:00:00.000Z');
  assert.equal(next('0 0 * * SAT', '2024-09-01T00:00:00Z'), '2024-09-07T00:00:00.000Z');
});

test('parse errors name the field path, the field and the fix', () => {
  const bad = (expr: string, what: RegExp): void =>
    assert.throws(
      () => parseCron(expr, 'spec.backup.repos[0].schedules.full'),
      (e: unknown) =>
        e instanceof PgpilotError &&
        e.code === 'Config' &&
        e.message.startsWith('spec.backup.repos[0].schedules.full: ') &&
        what.test(e.message) &&
        e.message.includes(`"${expr.trim()}"`) &&
        /e\.g\. "30 2 \* \* SUN"/.test(e.hint ?? ''),
      expr,
    );
  bad('', /nothing to read/);
  bad('* * *', /expected 5 fields, got 3/);
  bad('0 0 * * * *', /expected 5 fields, got 6/);
  bad('75 * * * *', /minute field: 75 is out of range 0-59/);
  bad('0 24 * * *', /hour field: 24 is out of range 0-23/);
  bad('0 0 0 * *', /day-of-month field: 0 is out of range 1-31/);
  bad('0 0 * 13 *', /month field: 13 is out of range 1-12/);
  bad('0 0 * * 8', /day-of-week field: 8 is out of range 0-7/);
  bad('0 0 * FOO *', /month field: "FOO" is not a number or a name/);
  bad('x * * * *', /minute field: "x" is not a number in/);
  bad('5-1 * * * *', /range "5-1" runs backwards/);
  bad('*/0 * * * *', /step in "\*\/0" must be between 1 and 59/);
  bad('*/60 * * * *', /step in "\*\/60"/);
  bad('5/10 * * * *', /a step needs \* or a range/);
  bad('1,,2 * * * *', /cannot read ""/);
  bad('1-2-3 * * * *', /cannot read "1-2-3"/);
  bad('@every', /unknown macro @every/);
  bad('0 0 31 2 *', /the day fields never match a date/);
  bad('0 0 31 APR,JUN *', /never match/);
});

test('firesBetween: a run is due once per fire time in (from, to]', () => {
  const c = parseCron('30 2 * * *', 'f');
  assert.equal(firesBetween(c, at('2024-05-10T02:00:00Z'), at('2024-05-10T02:30:00Z')), true);
  assert.equal(firesBetween(c, at('2024-05-10T02:30:00Z'), at('2024-05-10T03:00:00Z')), false);
  assert.equal(firesBetween(c, at('2024-05-10T02:29:59Z'), at('2024-05-10T02:30:01Z')), true);
  assert.equal(firesBetween(c, at('2024-05-10T02:31:00Z'), at('2024-05-11T02:29:00Z')), false);
  assert.equal(firesBetween(c, at('2024-05-01T00:00:00Z'), at('2024-05-10T00:00:00Z')), true);
  assert.equal(firesBetween(c, at('2024-05-10T03:00:00Z'), at('2024-05-10T02:00:00Z')), false);
  assert.equal(firesBetween(c, at('2024-05-10T02:30:00Z'), at('2024-05-10T02:30:00Z')), false);
});
