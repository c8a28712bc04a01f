// Unit tests of interpreting the observation row: timelines and WAL positions on primaries and replicas.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toObservation, type ObserveRow } from './observe.js';

const primary: ObserveRow = {
  in_recovery: false, wal_file: '000000020000000000000003', current_lsn: '0/3000060', received_lsn: null,
  replayed_lsn: null, received_tli: null, receiver_status: null, checkpoint_tli: 1, system_identifier: '7300000000000000001',
  server_version: 150007, postmaster_start_time: new Date(0), pending_restart: false,
  replication: [{
    applicationName: 'ha_2', clientAddr: '127.0.0.1', state: 'streaming', syncState: 'async',
    sentLsn: '0/3000060', writeLsn: '0/3000060', flushLsn: '0/3000060', replayLsn: null,
  }],
};

test('a primary takes its timeline from the WAL file name, not the lagging checkpoint', () => {
  const o = toObservation(primary);
  assert.equal(o.timeline, 2);
  assert.equal(o.walPosition, 0x3000060n);
  assert.equal(o.streaming, false);
  assert.equal(o.replication[0]?.sentLsn, 0x3000060n);
  assert.equal(o.replication[0]?.replayLsn, undefined);
});

test('a replica takes the receiver timeline, else the checkpoint one, and the further WAL position', () => {
  const replica: ObserveRow = {
    ...primary, in_recovery: true, wal_file: null, current_lsn: null, received_lsn: '0/5000000',
    replayed_lsn: '0/4000000', received_tli: 3, receiver_status: 'streaming', replication: [],
  };
  const o = toObservation(replica);
  assert.deepEqual([o.timeline, o.walPosition, o.streaming], [3, 0x5000000n, true]);
  const stopped = toObservation({ ...replica, received_tli: null, receiver_status: null, received_lsn: null });
  assert.deepEqual([stopped.timeline, stopped.walPosition, stopped.streaming], [1, 0x4000000n, false]);
});
