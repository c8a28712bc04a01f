// Unit tests of recovery targets: parsing the flags, choosing the backup, the settings PostgreSQL gets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PgpilotError } from '../base/errors.js';
import { parseLsn } from '../model/lsn.js';
import type { BackupManifest } from './backup-manifest.js';
import { chooseBackup, parseTarget, recoverySettings } from './recovery-target.js';

const backup = (label: string, stopTime: string, stopLsn: string, startXmin: string): BackupManifest =>
  ({ label, stopTime, stopLsn, startXmin } as unknown as BackupManifest);
const b1 = backup('20261101-000000F', '2026-11-01T00:05:00.000Z', '0/3000100', '740');
const b2 = backup('20261102-000000F', '2026-11-02T00:05:00.000Z', '0/9000100', '900');

test('flags give one target; two are refused; none is the end of the archive', () => {
  assert.deepEqual(parseTarget({ immediate: false }), { kind: 'latest' });
  assert.deepEqual(parseTarget({ lsn: '0/3000100', immediate: false }), { kind: 'lsn', lsn: parseLsn('0/3000100') });
  assert.deepEqual(parseTarget({ xid: '741', immediate: false }), { kind: 'xid', xid: 741n });
  assert.throws(() => parseTarget({ time: '2026-11-01', lsn: '0/1', immediate: false }), (e: unknown) => e instanceof PgpilotError && e.code === 'Usage');
  assert.throws(() => parseTarget({ time: 'yesterday-ish', immediate: false }), /is not a time/);
  assert.throws(() => parseTarget({ lsn: 'zz', immediate: false }), /is not an LSN/);
});

test('a time without a zone is UTC, whatever the host zone; a given zone is kept', () => {
  const at = (time: string): string => {
    const t = parseTarget({ time, immediate: false });
    assert.ok(t.kind === 'time');
    return t.time.toISOString();
  };
  assert.equal(at('2026-11-22 03:00:00'), '2026-11-22T03:00:00.000Z');
  assert.equal(at('2026-11-22T03:00:00.5'), '2026-11-22T03:00:00.500Z');
  assert.equal(at('2026-11-22T03:00:00+01:00'), '2026-11-22T02:00:00.000Z');
  assert.equal(at('2026-11-22T03:00:00Z'), '2026-11-22T03:00:00.000Z');
});

test('the newest backup consistent before the target is chosen; too early a target names the earliest point', () => {
  assert.equal(chooseBackup([b1, b2], { kind: 'time', time: new Date('2026-11-01T12:00:00Z') }, undefined).label, b1.label);
  assert.equal(chooseBackup([b1, b2], { kind: 'time', time: new Date('2026-11-03T00:00:00Z') }, undefined).label, b2.label);
  assert.equal(chooseBackup([b1, b2], { kind: 'lsn', lsn: parseLsn('0/5000000') }, undefined).label, b1.label);
  assert.equal(chooseBackup([b1, b2], { kind: 'xid', xid: 800n }, undefined).label, b1.label);
  assert.equal(chooseBackup([b1, b2], { kind: 'latest' }, undefined).label, b2.label);
  assert.throws(() => chooseBackup([b1, b2], { kind: 'time', time: new Date('2026-10-01T00:00:00Z') }, undefined), (e: unknown) =>
    e instanceof PgpilotError && /earliest restorable point is 2026-11-01T00:05:00.000Z/.test(e.hint ?? ''));
  assert.throws(() => chooseBackup([b1, b2], { kind: 'lsn', lsn: parseLsn('0/5000000') }, b2.label), /became consistent after the target/);
  assert.throws(() => chooseBackup([b1], { kind: 'latest' }, 'nope'), (e: unknown) => e instanceof PgpilotError && e.code === 'NotFound');
});

test('recovery settings promote at the target, with a time PostgreSQL accepts', () => {
  const lines = recoverySettings({ kind: 'time', time: new Date('2026-11-01T12:00:00.250Z') }, "cp '/w/'%f %p");
  assert.ok(lines.includes("recovery_target_time = '2026-11-01 12:00:00.250+00'"));
  assert.ok(lines.includes("recovery_target_action = 'promote'"));
  assert.ok(lines.includes("restore_command = 'cp ''/w/''%f %p'"));
  assert.deepEqual(recoverySettings({ kind: 'latest' }, 'x').filter((l) => l.startsWith('recovery_target_action')), []);
});
