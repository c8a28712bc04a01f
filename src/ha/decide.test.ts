// Unit tests of decide(): each observation gives one action and a reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClusterMember, ClusterView, DynamicConfig } from '../model/cluster.js';
import { decide } from './decide.js';
import type { LocalState, Observation, PeerState, PgSnapshot } from './observation.js';

function member(name: string, over: Partial<ClusterMember['data']> = {}): ClusterMember {
  return {
    name,
    data: { conn_url: `postgres://127.0.0.1:5432/postgres`, api_url: 'http://127.0.0.1:8008/patroni', state: 'running', role: 'replica', version: '0.1.0', ...over },
  };
}

const config = (over: Partial<DynamicConfig> = {}): DynamicConfig =>
  ({ ttl: 4, loop_wait: 1, retry_timeout: 1, maximum_lag_on_failover: 1024, postgresql: { parameters: {} }, ...over });

function view(over: Partial<ClusterView> = {}): ClusterView {
  return {
    scope: 'ha', initialize: '7000', config: config(), configRevision: 0, leader: undefined,
    members: [member('m0'), member('m1'), member('m2')], history: [], optime: undefined, failover: undefined,
    sync: undefined, revision: 1, ...over,
  };
}

const replicaPg = (received: bigint): PgSnapshot => ({
  inRecovery: true, timeline: 1, walPosition: received, receivedPosition: received, streaming: false, systemIdentifier: '7000', replication: [],
});
const primaryPg: PgSnapshot = { inRecovery: false, timeline: 1, walPosition: 100n, receivedPosition: undefined, streaming: false, systemIdentifier: '7000', replication: [] };
const missing: LocalState = { dataDir: 'missing', postmasterPid: undefined, pg: undefined, following: undefined, wasPrimary: undefined };
const peer = (position: number, over: Partial<PeerState> = {}): PeerState => ({ reachable: true, position, role: 'replica', state: 'running', ...over });

type Over = Partial<Observation> & { pg?: PgSnapshot | undefined; name?: string; wasPrimary?: boolean };
function obs(over: Over = {}): Observation {
  const { pg, name, wasPrimary, ...rest } = over;
  return {
    now: 100_000, me: { name: name ?? 'm1', nofailover: false, bootstrap: 'initdb' }, dcs: view(), holdsLeader: false,
    local: { dataDir: 'initialized', postmasterPid: pg === undefined ? undefined : 42, pg, following: undefined, wasPrimary },
    maximumLagOnFailover: 1024, ttlMs: 4000, loopWaitMs: 1000, requestTimeoutMs: 1000, sync: { mode: 'off', number: 1, strict: false }, peers: undefined,
    latches: { primaryStartFailures: 0, failsafeFrom: undefined, leaseRenewedAt: 99_000, notStreamingSince: undefined }, ...rest,
  };
}
const led = (over: Partial<ClusterView> = {}): ClusterView => view({ leader: { name: 'm0', lease: '1' }, ...over });

test('an uninitialized cluster is bootstrapped', () => {
  const d = decide(obs({ dcs: view({ initialize: undefined }), local: missing }));
  assert.equal(d.action.kind, 'bootstrap');
  assert.match(d.reason, /not initialized/);
});

test('a member without data clones from the leader, or waits when there is none', () => {
  assert.deepEqual(decide(obs({ dcs: led(), local: missing })).action, { kind: 'clone', from: member('m0') });
  const w = decide(obs({ local: missing }));
  assert.equal(w.action.kind, 'wait');
  assert.match(w.reason, /waiting for a leader/);
});

test('a stopped postgres restarts in place as primary while we hold the lock, and gives the lock up after repeated failures', () => {
  assert.equal(decide(obs({ holdsLeader: true })).action.kind, 'startPrimary');
  const failing = decide(obs({ holdsLeader: true, latches: { primaryStartFailures: 2, failsafeFrom: undefined, leaseRenewedAt: 0, notStreamingSince: undefined } }));
  assert.equal(failing.action.kind, 'releaseLeader');
  assert.match(failing.reason, /failed to start 2 times/);
});

test('a primary whose start timed out and still does not answer gives the lock up', () => {
  const o = obs({ holdsLeader: true, latches: { primaryStartFailures: 1, failsafeFrom: undefined, leaseRenewedAt: 0, notStreamingSince: undefined } });
  const d = decide({ ...o, local: { ...o.local, postmasterPid: 42 } });
  assert.equal(d.action.kind, 'releaseLeader');
  assert.equal(decide({ ...o, holdsLeader: false, local: { ...o.local, postmasterPid: 42 } }).action.kind, 'wait');
});

test('a stopped replica starts following the leader; a former primary rewinds first; nothing starts while paused', () => {
  const d = decide(obs({ dcs: led() }));
  assert.deepEqual(d.action, { kind: 'startReplica', leader: member('m0') });
  assert.deepEqual(decide(obs({ dcs: led(), wasPrimary: true })).action, { kind: 'rejoin', leader: member('m0') });
  assert.equal(decide(obs({ dcs: led({ config: config({ pause: true }) }) })).action.kind, 'wait');
});

test('the primary holding the lock leads; one without a leader takes it; one with another leader demotes', () => {
  assert.equal(decide(obs({ pg: primaryPg, holdsLeader: true })).action.kind, 'lead');
  assert.equal(decide(obs({ pg: primaryPg })).action.kind, 'acquireLeader');
  const d = decide(obs({ pg: primaryPg, dcs: led() }));
  assert.equal(d.action.kind, 'demote');
  assert.match(d.reason, /m0 holds the leader lock/);
});

test('a replica follows the leader, and rejoins by rewind when stuck behind a timeline fork', () => {
  assert.deepEqual(decide(obs({ pg: replicaPg(100n), dcs: led() })).action, { kind: 'follow', leader: member('m0') });
  const dcs = led({ members: [member('m0', { timeline: 2 }), member('m1'), member('m2')] });
  const latches = (since: number): Observation['latches'] => ({ primaryStartFailures: 0, failsafeFrom: undefined, leaseRenewedAt: 0, notStreamingSince: since });
  assert.equal(decide(obs({ pg: replicaPg(100n), dcs, latches: latches(95_000) })).action.kind, 'follow');
  const stuck = decide(obs({ pg: replicaPg(100n), dcs, latches: latches(80_000) }));
  assert.equal(stuck.action.kind, 'rejoin');
  assert.match(stuck.reason, /leader is on timeline 2 \(mine 1\)/);
});

test('without a leader only the healthiest eligible replica promotes, judged by fresh peer positions', () => {
  const members = [member('m0', { state: 'stopped' }), member('m1', { received_location: 100 }), member('m2', { received_location: 200 })];
  const behind = decide(obs({ pg: replicaPg(100n), dcs: view({ members }) }));
  assert.equal(behind.action.kind, 'follow');
  assert.match(behind.reason, /m2 is healthier/);
  assert.equal(decide(obs({ name: 'm2', pg: replicaPg(200n), dcs: view({ members }) })).action.kind, 'promote');
  // The member keys are stale: m2's API says it is further behind than m1 now.
  const peers = { m0: peer(0, { reachable: false }), m2: peer(50) };
  assert.equal(decide(obs({ pg: replicaPg(100n), dcs: view({ members }), peers })).action.kind, 'promote');
});

test('without a leader a replica does not promote while the cluster is being initialized (a restored cluster)', () => {
  const members = [member('m0', { role: 'master', state: 'starting' }), member('m1', { received_location: 100 })];
  for (const initialize of [undefined, '']) {
    const waiting = decide(obs({ pg: replicaPg(100n), dcs: view({ members, initialize }) }));
    assert.equal(waiting.action.kind, 'follow');
    assert.match(waiting.reason, /the cluster is being initialized/);
  }
  assert.equal(decide(obs({ pg: replicaPg(100n), dcs: view({ members }) })).action.kind, 'promote', 'once initialized it may');
});

test('equal positions break the tie by name; nofailover and excessive lag block promotion', () => {
  const members = [member('m1', { received_location: 100 }), member('m2', { received_location: 100 })];
  assert.equal(decide(obs({ name: 'm1', pg: replicaPg(100n), dcs: view({ members }) })).action.kind, 'promote');
  assert.equal(decide(obs({ name: 'm2', pg: replicaPg(100n), dcs: view({ members }) })).action.kind, 'follow');
  const tagged = decide(obs({ name: 'm1', pg: replicaPg(100n), dcs: view({ members }), me: { name: 'm1', nofailover: true, bootstrap: 'initdb' } }));
  assert.match(tagged.reason, /nofailover/);
  const lagging = decide(obs({ name: 'm1', pg: replicaPg(100n), dcs: view({ members, optime: 5000 }) }));
  assert.equal(lagging.action.kind, 'follow');
  assert.match(lagging.reason, /exceeds maximum_lag_on_failover/);
});

test('in synchronous mode only a member of the sync set may promote, even when another is further ahead', () => {
  const members = [member('m1', { received_location: 100 }), member('m2', { received_location: 900 })];
  const sync = { mode: 'on' as const, number: 1, strict: false };
  const dcs = view({ members, sync: { leader: 'm0', sync_standby: 'm1' } });
  assert.equal(decide(obs({ name: 'm1', pg: replicaPg(100n), dcs, sync })).action.kind, 'promote');
  const m2 = decide(obs({ name: 'm2', pg: replicaPg(900n), dcs, sync }));
  assert.equal(m2.action.kind, 'follow');
  assert.match(m2.reason, /not a synchronous standby \(m1\)/);
  // An empty sync key: the primary ran asynchronously; non-strict falls back to the usual election, strict refuses.
  assert.equal(decide(obs({ name: 'm2', pg: replicaPg(900n), dcs: view({ members }), sync })).action.kind, 'promote');
  const strict = decide(obs({ name: 'm2', pg: replicaPg(900n), dcs: view({ members }), sync: { ...sync, strict: true } }));
  assert.match(strict.reason, /strict and no member is known to hold every acknowledged commit/);
});

test('in quorum mode a candidate must see enough of the set and be the furthest among them', () => {
  const sync = { mode: 'quorum' as const, number: 1, strict: false };
  const members = [member('m1'), member('m2')];
  const dcs = view({ members, sync: { leader: 'm0', sync_standby: 'm1,m2' } });
  const blind = decide(obs({ pg: replicaPg(100n), dcs, sync, peers: { m2: peer(0, { reachable: false }) } }));
  assert.match(blind.reason, /quorum: I see 1 of the synchronous set, 2 needed/);
  assert.equal(decide(obs({ pg: replicaPg(100n), dcs, sync, peers: { m2: peer(90) } })).action.kind, 'promote');
  assert.equal(decide(obs({ pg: replicaPg(100n), dcs, sync, peers: { m2: peer(150) } })).action.kind, 'follow');
});

test('a switchover request makes the leader hand over to a healthy candidate, or is refused', () => {
  const peers = { m1: peer(100), m2: peer(100, { state: 'stopped' }) };
  const streaming = { pgpilot: { streaming: true } };
  const members = [member('m0'), member('m1', streaming), member('m2', streaming)];
  const request = (candidate: string): Partial<ClusterView> => ({ failover: { leader: 'm0', member: candidate }, members });
  const ok = decide(obs({ name: 'm0', pg: primaryPg, holdsLeader: true, dcs: led(request('m1')), peers }));
  assert.deepEqual(ok.action, { kind: 'switchover', candidate: member('m1', streaming) });
  const lagging = decide(obs({ name: 'm0', pg: primaryPg, holdsLeader: true, dcs: led({ ...request('m1'), members: [member('m0'), member('m1'), member('m2')] }), peers }));
  assert.match(lagging.reason, /m1 is not a healthy, streaming replica/);
  const refused = decide(obs({ name: 'm0', pg: primaryPg, holdsLeader: true, dcs: led(request('m2')), peers }));
  assert.equal(refused.action.kind, 'clearFailover');
  assert.match(refused.reason, /m2 is not a healthy, streaming replica/);
  const later = decide(obs({ name: 'm0', pg: primaryPg, holdsLeader: true, dcs: led({ members, failover: { leader: 'm0', member: 'm1', scheduled_at: new Date(200_000).toISOString() } }), peers }));
  assert.equal(later.action.kind, 'lead');
});

test('during a switchover the named candidate promotes and the others do not compete', () => {
  const dcs = view({ failover: { leader: 'm0', member: 'm2' } });
  assert.equal(decide(obs({ name: 'm2', pg: replicaPg(1n), dcs })).action.kind, 'promote');
  const other = decide(obs({ name: 'm1', pg: replicaPg(100n), dcs, peers: { m2: peer(1) } }));
  assert.equal(other.action.kind, 'follow');
  assert.match(other.reason, /switchover to m2 is under way/);
});

test('paused: no promotion, and a primary is not demoted', () => {
  assert.match(decide(obs({ pg: replicaPg(100n), dcs: view({ config: config({ pause: true }) }) })).reason, /paused: not promoting/);
  assert.equal(decide(obs({ pg: primaryPg, dcs: led({ config: config({ pause: true }) }) })).action.kind, 'wait');
});

test('DCS unreachable: the primary keeps serving under failsafe, waits while its lease is valid, else demotes', () => {
  const base = { dcs: undefined, pg: primaryPg, holdsLeader: false };
  assert.equal(decide(obs({ ...base, peers: { m1: peer(1), m2: peer(1) } })).action.kind, 'failsafe');
  const valid = decide(obs({ ...base, ttlMs: 6000, peers: { m1: peer(1), m2: peer(0, { reachable: false }) }, latches: { primaryStartFailures: 0, failsafeFrom: undefined, leaseRenewedAt: 99_000, notStreamingSince: undefined } }));
  assert.equal(valid.action.kind, 'wait');
  assert.match(valid.reason, /lease still valid for 5000 ms/);
  const late = decide(obs({ ...base, ttlMs: 6000, peers: { m1: peer(1), m2: peer(0, { reachable: false }) }, latches: { primaryStartFailures: 0, failsafeFrom: undefined, leaseRenewedAt: 96_000, notStreamingSince: undefined } }));
  assert.equal(late.action.kind, 'demote');
  assert.match(late.reason, /no answer from m2/);
  assert.equal(decide(obs({ dcs: undefined, pg: replicaPg(1n) })).action.kind, 'wait');
});

test('after a DCS outage replicas leave the lock to a leader that proved alive through failsafe', () => {
  const latches = { primaryStartFailures: 0, failsafeFrom: { leader: 'm0', at: 98_000 }, leaseRenewedAt: 0, notStreamingSince: undefined };
  const d = decide(obs({ pg: replicaPg(100n), latches }));
  assert.equal(d.action.kind, 'follow');
  assert.match(d.reason, /m0 was alive 2000 ms ago \(failsafe\)/);
});

test('a data directory of another cluster is refused', () => {
  const d = decide(obs({ pg: { ...replicaPg(1n), systemIdentifier: '9999' } }));
  assert.equal(d.action.kind, 'wait');
  assert.match(d.reason, /refusing to join/);
});

test('a restored first member bootstraps from its data directory; the others wait instead of running initdb', () => {
  const uninitialized = view({ initialize: undefined });
  const restored = obs({ name: 'm1', dcs: uninitialized, me: { name: 'm1', nofailover: false, bootstrap: 'existing' } });
  assert.equal(decide(restored).action.kind, 'bootstrap');
  const other = obs({ name: 'm2', dcs: uninitialized, me: { name: 'm2', nofailover: false, bootstrap: 'none' } });
  assert.equal(decide({ ...other, local: { ...other.local, dataDir: 'missing' } }).action.kind, 'wait');
});
