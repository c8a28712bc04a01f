// Unit tests of decide(): each observation gives one action and a reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClusterMember, ClusterView } from '../model/cluster.js';
import { decide } from './decide.js';
import type { Observation, PgSnapshot } from './observation.js';

function member(name: string, over: Partial<ClusterMember['data']> = {}): ClusterMember {
  return {
    name,
    data: { conn_url: `postgres://127.0.0.1:5432/postgres`, api_url: 'http://127.0.0.1:8008/patroni', state: 'running', role: 'replica', version: '0.1.0', ...over },
  };
}

function view(over: Partial<ClusterView> = {}): ClusterView {
  return {
    scope: 'ha', initialize: '7000', config: undefined, configRevision: 0, leader: undefined,
    members: [member('m0'), member('m1'), member('m2')], history: [], optime: undefined, failover: undefined,
    sync: undefined, revision: 1, ...over,
  };
}

const replicaPg = (received: bigint): PgSnapshot => ({
  inRecovery: true, timeline: 1, walPosition: received, receivedPosition: received, streaming: false, systemIdentifier: '7000',
});
const primaryPg: PgSnapshot = { inRecovery: false, timeline: 1, walPosition: 100n, receivedPosition: undefined, streaming: false, systemIdentifier: '7000' };

function obs(over: Partial<Observation> & { pg?: PgSnapshot | undefined; name?: string } = {}): Observation {
  const { pg, name, ...rest } = over;
  return {
    now: 1000, me: { name: name ?? 'm1', nofailover: false }, dcs: view(), holdsLeader: false,
    local: { dataDir: 'initialized', postmasterPid: pg === undefined ? undefined : 42, pg, following: undefined },
    maximumLagOnFailover: 1024, ...rest,
  };
}

test('an uninitialized cluster is bootstrapped', () => {
  const d = decide(obs({ dcs: view({ initialize: undefined }), local: { dataDir: 'missing', postmasterPid: undefined, pg: undefined, following: undefined } }));
  assert.equal(d.action.kind, 'bootstrap');
  assert.match(d.reason, /not initialized/);
});

test('a member without data clones from the leader, or waits when there is none', () => {
  const local = { dataDir: 'missing' as const, postmasterPid: undefined, pg: undefined, following: undefined };
  const d = decide(obs({ dcs: view({ leader: { name: 'm0', lease: '1' } }), local }));
  assert.deepEqual(d.action, { kind: 'clone', from: member('m0') });
  const w = decide(obs({ local }));
  assert.equal(w.action.kind, 'wait');
  assert.match(w.reason, /waiting for a leader/);
});

test('a stopped postgres starts as primary when we hold the lock, else as a replica of the leader', () => {
  assert.equal(decide(obs({ holdsLeader: true })).action.kind, 'startPrimary');
  const d = decide(obs({ dcs: view({ leader: { name: 'm0', lease: '1' } }) }));
  assert.deepEqual(d.action, { kind: 'startReplica', leader: member('m0') });
  assert.match(d.reason, /replica of m0/);
});

test('the primary holding the lock leads; one without a leader takes it; one with another leader demotes', () => {
  assert.equal(decide(obs({ pg: primaryPg, holdsLeader: true })).action.kind, 'lead');
  assert.equal(decide(obs({ pg: primaryPg })).action.kind, 'acquireLeader');
  const d = decide(obs({ pg: primaryPg, dcs: view({ leader: { name: 'm0', lease: '1' } }) }));
  assert.equal(d.action.kind, 'demote');
  assert.match(d.reason, /m0 holds the leader lock/);
});

test('a replica follows the leader', () => {
  const d = decide(obs({ pg: replicaPg(100n), dcs: view({ leader: { name: 'm0', lease: '1' } }) }));
  assert.deepEqual(d.action, { kind: 'follow', leader: member('m0') });
});

test('without a leader only the healthiest eligible replica promotes', () => {
  const members = [member('m0', { state: 'stopped' }), member('m1', { received_location: 100 }), member('m2', { received_location: 200 })];
  const behind = decide(obs({ pg: replicaPg(100n), dcs: view({ members }) }));
  assert.equal(behind.action.kind, 'follow');
  assert.match(behind.reason, /m2 is healthier/);
  const ahead = decide(obs({ name: 'm2', pg: replicaPg(200n), dcs: view({ members }) }));
  assert.equal(ahead.action.kind, 'promote');
});

test('equal positions break the tie by name; nofailover and excessive lag block promotion', () => {
  const members = [member('m1', { received_location: 100 }), member('m2', { received_location: 100 })];
  assert.equal(decide(obs({ name: 'm1', pg: replicaPg(100n), dcs: view({ members }) })).action.kind, 'promote');
  assert.equal(decide(obs({ name: 'm2', pg: replicaPg(100n), dcs: view({ members }) })).action.kind, 'follow');
  const tagged = decide(obs({ name: 'm1', pg: replicaPg(100n), dcs: view({ members }), me: { name: 'm1', nofailover: true } }));
  assert.match(tagged.reason, /nofailover/);
  const lagging = decide(obs({ name: 'm1', pg: replicaPg(100n), dcs: view({ members, optime: 5000 }) }));
  assert.equal(lagging.action.kind, 'follow');
  assert.match(lagging.reason, /exceeds maximum_lag_on_failover/);
});

test('an unreachable DCS demotes a primary and leaves a replica alone', () => {
  assert.equal(decide(obs({ dcs: undefined, pg: primaryPg, holdsLeader: true })).action.kind, 'demote');
  assert.equal(decide(obs({ dcs: undefined, pg: replicaPg(1n) })).action.kind, 'wait');
});

test('a data directory of another cluster is refused', () => {
  const d = decide(obs({ pg: { ...replicaPg(1n), systemIdentifier: '9999' } }));
  assert.equal(d.action.kind, 'wait');
  assert.match(d.reason, /refusing to join/);
});
