// Unit tests of pg_controldata parsing on real PostgreSQL 15 output, and of telling a former primary from a standby.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CLUSTER_STATES, parseControlData, wasPrimary, type ControlData } from './controldata.js';

// Captured with LC_ALL=C pg_controldata (PostgreSQL 15.20): a primary stopped with a fast shutdown.
const PRIMARY_SHUT_DOWN = `pg_control version number:            1300
Catalog version number:               202209061
Database system identifier:           7710836269669854526
Database cluster state:               shut down
pg_control last modified:             Sun Nov 22 03:42:54 2026
Latest checkpoint location:           0/3000028
Latest checkpoint's REDO location:    0/3000028
Latest checkpoint's REDO WAL file:    000000010000000000000003
Latest checkpoint's TimeLineID:       1
Latest checkpoint's PrevTimeLineID:   1
Latest checkpoint's full_page_writes: on
Latest checkpoint's NextXID:          0:725
Latest checkpoint's NextOID:          16387
Latest checkpoint's NextMultiXactId:  1
Latest checkpoint's NextMultiOffset:  0
Latest checkpoint's oldestXID:        716
Latest checkpoint's oldestXID's DB:   1
Latest checkpoint's oldestActiveXID:  0
Latest checkpoint's oldestMultiXid:   1
Latest checkpoint's oldestMulti's DB: 1
Latest checkpoint's oldestCommitTsXid:0
Latest checkpoint's newestCommitTsXid:0
Time of latest checkpoint:            Sun Nov 22 03:42:54 2026
Fake LSN counter for unlogged rels:   0/3E8
Minimum recovery ending location:     0/0
Min recovery ending loc's timeline:   0
Backup start location:                0/0
Backup end location:                  0/0
End-of-backup record required:        no
wal_level setting:                    replica
wal_log_hints setting:                on
max_connections setting:              100
max_worker_processes setting:         8
max_wal_senders setting:              10
max_prepared_xacts setting:           0
max_locks_per_xact setting:           64
track_commit_timestamp setting:       off
Maximum data alignment:               8
Database block size:                  8192
Blocks per segment of large relation: 131072
WAL block size:                       8192
Bytes per WAL segment:                16777216
Maximum length of identifiers:        64
Maximum columns in an index:          32
Maximum size of a TOAST chunk:        1996
Size of a large-object chunk:         2048
Date/time type storage:               64-bit integers
Float8 argument passing:              by value
Data page checksum version:           1
Mock authentication nonce:            056122b6792c9db5820fa3b9f12bd2e21fd2d9fb734d2b1b0c415ca7dd277b1a
`;

/**
 * PRIMARY_SHUT_DOWN with the values of some lines replaced (aligned as pg_controldata aligns them). The other real
 * captures below are given this way: these are the only lines in which their output differed.
 */
function capture(differing: Record<string, string>): string {
  const lines = PRIMARY_SHUT_DOWN.split('\n');
  for (const [label, value] of Object.entries(differing)) {
    const at = lines.findIndex((l) => l.startsWith(`${label}:`));
    assert.ok(at >= 0, label);
    lines[at] = `${label}:${' '.repeat(Math.max(0, 37 - label.length))}${value}`;
  }
  return lines.join('\n');
}

// Its standby (pg_basebackup -R), stopped with a fast shutdown after streaming for a second.
const STANDBY_SHUT_DOWN = capture({
  'Database cluster state': 'shut down in recovery',
  'pg_control last modified': 'Sun Nov 22 03:42:53 2026',
  'Latest checkpoint location': '0/2000060',
  "Latest checkpoint's REDO location": '0/2000028',
  "Latest checkpoint's REDO WAL file": '000000010000000000000002',
  "Latest checkpoint's NextOID": '24576',
  "Latest checkpoint's oldestActiveXID": '725',
  'Time of latest checkpoint': 'Sun Nov 22 03:42:52 2026',
  'Minimum recovery ending location': '0/3000000',
  "Min recovery ending loc's timeline": '1',
});

// The primary started again, one row written, then its postmaster killed with SIGKILL.
const PRIMARY_CRASHED = capture({ 'Database cluster state': 'in production' });

test('parses a cleanly shut down primary', () => {
  const cd = parseControlData(PRIMARY_SHUT_DOWN);
  assert.deepEqual(cd, {
    state: 'shut down',
    timeline: 1,
    checkpointLsn: 0x3000028n,
    redoLsn: 0x3000028n,
    systemIdentifier: '7710836269669854526',
    minRecoveryEndLsn: 0n,
    minRecoveryEndTimeline: 0,
    dataChecksums: true,
    walLogHints: true,
  } satisfies ControlData);
  assert.equal(wasPrimary(cd), true);
});

test('parses a shut down standby: its replay position is the minimum recovery ending location', () => {
  const cd = parseControlData(STANDBY_SHUT_DOWN);
  assert.equal(cd.state, 'shut down in recovery');
  assert.deepEqual([cd.checkpointLsn, cd.redoLsn, cd.minRecoveryEndLsn, cd.minRecoveryEndTimeline],
    [0x2000060n, 0x2000028n, 0x3000000n, 1]);
  assert.equal(wasPrimary(cd), false);
});

test('a crashed primary is still in production, and was a primary', () => {
  const cd = parseControlData(PRIMARY_CRASHED);
  assert.equal(cd.state, 'in production');
  assert.equal(wasPrimary(cd), true);
});

test('reads high LSNs, checksums off and wal_log_hints off', () => {
  const cd = parseControlData(capture({
    'Latest checkpoint location': 'A1/FF000028',
    "Latest checkpoint's TimeLineID": '12',
    'Data page checksum version': '0',
    'wal_log_hints setting': 'off',
  }));
  assert.deepEqual([cd.checkpointLsn, cd.timeline, cd.dataChecksums, cd.walLogHints], [0xa1ff000028n, 12, false, false]);
});

test('only the states a primary leaves behind count as a former primary', () => {
  const primaries = CLUSTER_STATES.filter((state) => wasPrimary({ state }));
  assert.deepEqual(primaries, ['shut down', 'shutting down', 'in crash recovery', 'in production']);
});

test('rejects output it does not understand, naming the line', () => {
  assert.throws(() => parseControlData(''), { code: 'Postgres', message: /no "Database cluster state" line/ });
  assert.throws(() => parseControlData(capture({ 'Database cluster state': 'unrecognized status code' })),
    /unknown cluster state "unrecognized status code"/);
  assert.throws(() => parseControlData(capture({ 'Latest checkpoint location': '3000028' })),
    /"Latest checkpoint location" is not an LSN/);
  assert.throws(() => parseControlData(capture({ 'wal_log_hints setting': 'maybe' })), /neither on nor off/);
  assert.throws(() => parseControlData(PRIMARY_SHUT_DOWN.replace(/^Data page checksum version:.*\n/m, '')),
    /no "Data page checksum version" line/);
});
