// Unit tests of the /patroni document: Patroni 3.0.2's shape for a primary, a replica and a stopped member.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixtureNow, primaryStatus, replicaStatus } from './fixtures.js';
import { patroniDocument } from './patroni-json.js';

const common = {
  state: 'running',
  postmaster_start_time: '2024-01-02 03:04:05.678+00:00',
  server_version: 150005,
  timeline: 2,
  database_system_identifier: '7312345678901234567',
  patroni: { version: '0.1.0', scope: 'demo' },
  dcs_last_seen: Math.floor((fixtureNow - 2000) / 1000),
};

test('a primary is "master" with its WAL location and replication', () => {
  assert.deepEqual(patroniDocument(primaryStatus()), {
    ...common,
    role: 'master',
    xlog: { location: 0x3000060 },
    replication: [{ application_name: 'pg-1', client_addr: '127.0.0.1', state: 'streaming', sync_state: 'async' }],
  });
});

test('a replica has received and replayed locations, and flags only when set', () => {
  const doc = patroniDocument(replicaStatus({ pendingRestart: true, tags: { nofailover: true }, paused: true }));
  assert.deepEqual(doc, {
    ...common,
    role: 'replica',
    xlog: { received_location: 0x3000000, replayed_location: 0x2fff000, replayed_timestamp: null, paused: false },
    pending_restart: true,
    tags: { nofailover: true },
    pause: true,
  });
});

test('a member whose PostgreSQL is not running reports no PostgreSQL fields', () => {
  const doc = patroniDocument(replicaStatus({ state: 'stopped', systemIdentifier: undefined }));
  const { patroni, dcs_last_seen } = common;
  assert.deepEqual(doc, { state: 'stopped', role: 'replica', patroni, dcs_last_seen });
});
