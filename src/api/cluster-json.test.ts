// Unit tests of the /cluster document: roles, host and port, and replica lag behind the leader.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clusterDocument, hostAndPort, memberLag } from './cluster-json.js';
import { clusterView, memberData } from './fixtures.js';

test('members are sorted by name, the leader has no lag, the replica its distance from the optime', () => {
  const common = { api_url: 'http://127.0.0.1:8008/patroni', timeline: 2 };
  assert.deepEqual(clusterDocument(clusterView()), {
    scope: 'demo',
    members: [
      { ...common, name: 'pg-0', role: 'leader', state: 'running', host: '127.0.0.1', port: 5432 },
      { ...common, name: 'pg-1', role: 'replica', state: 'running', host: '127.0.0.1', port: 5433, lag: 0x60 },
      { ...common, name: 'pg-2', role: 'replica', state: 'stopped', host: '::1', port: 5434, lag: 'unknown' },
    ],
  });
});

test('pause and the sync standby show as in Patroni', () => {
  const view = clusterView({ sync: { leader: 'pg-0', sync_standby: 'pg-1' } });
  view.config = { ...clusterView().config!, pause: true };
  const doc = clusterDocument(view);
  assert.equal(doc.pause, true);
  assert.equal(doc.members[1]?.role, 'sync_standby');
});

test('lag falls back to the leader member position, is never negative, unknown without positions', () => {
  const noOptime = clusterView({ optime: undefined });
  assert.equal(memberLag(noOptime, memberData({ xlog_location: 0x3000000 })), 0x60);
  assert.equal(memberLag(noOptime, memberData({ received_location: 0x4000000 })), 0);
  const noLeader = clusterView({ optime: undefined, leader: undefined });
  assert.equal(memberLag(noLeader, memberData({ xlog_location: 1 })), 'unknown');
});

test('hostAndPort reads postgres URLs and leaves out what is missing', () => {
  assert.deepEqual(hostAndPort('postgres://db1:5432/postgres'), { host: 'db1', port: 5432 });
  assert.deepEqual(hostAndPort('postgres://db1/postgres'), { host: 'db1' });
  assert.deepEqual(hostAndPort('not a url'), {});
});
