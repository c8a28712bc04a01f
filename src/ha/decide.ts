// The single decision function of the agent loop: observation in, {action, reason} out. Pure: no I/O, no clock.
import type { ClusterMember, ClusterView } from '../model/cluster.js';
import { ineligibility, positionOf, syncSet } from './election.js';
import type { Observation, PgSnapshot } from './observation.js';

export type Action =
  | { kind: 'wait' }
  | { kind: 'bootstrap' }
  | { kind: 'clone'; from: ClusterMember }
  | { kind: 'startPrimary' }
  | { kind: 'startReplica'; leader: ClusterMember | undefined }
  | { kind: 'rejoin'; leader: ClusterMember }
  | { kind: 'lead' }
  | { kind: 'acquireLeader' }
  | { kind: 'follow'; leader: ClusterMember | undefined }
  | { kind: 'promote' }
  | { kind: 'demote'; leader: ClusterMember | undefined }
  | { kind: 'switchover'; candidate: ClusterMember }
  | { kind: 'clearFailover' }
  | { kind: 'releaseLeader' }
  | { kind: 'failsafe' };

export interface Decision {
  action: Action;
  reason: string;
}

/** Start failures of the primary after which it gives the leader lock up for a failover. */
export const maxPrimaryStartFailures = 2;

const decision = (action: Action, reason: string): Decision => ({ action, reason });

function leaderMember(view: ClusterView): ClusterMember | undefined {
  const name = view.leader?.name;
  return name === undefined ? undefined : view.members.find((m) => m.name === name);
}

function decideWithoutDcs(obs: Observation): Decision {
  const pg = obs.local.pg;
  if (pg === undefined || pg.inRecovery) return decision({ kind: 'wait' }, 'DCS unreachable: keeping the current state');
  const peers = Object.entries(obs.peers ?? {});
  const unreachable = peers.filter(([, p]) => !p.reachable).map(([name]) => name);
  if (obs.peers !== undefined && unreachable.length === 0) {
    return decision({ kind: 'failsafe' }, `DCS unreachable, failsafe: all ${peers.length} other members answered, keeping the primary`);
  }
  const renewed = obs.latches.leaseRenewedAt;
  const left = renewed === undefined ? 0 : renewed + obs.ttlMs - obs.now;
  // Demote while a full loop (and its DCS timeout) still fits in the lease: writes stop before anyone may be promoted.
  if (left > obs.loopWaitMs + obs.requestTimeoutMs + 500) return decision({ kind: 'wait' }, `DCS unreachable: leader lease still valid for ${left} ms, retrying`);
  return decision({ kind: 'demote', leader: undefined }, `DCS unreachable and failsafe failed (no answer from ${unreachable.join(', ') || 'any member'}): demoting before the lease expires`);
}

function decideWithoutData(view: ClusterView, obs: Observation): Decision {
  if (view.initialize === undefined && obs.me.bootstrap === 'initdb') return decision({ kind: 'bootstrap' }, 'cluster not initialized: racing to bootstrap it');
  if (view.initialize === undefined) return decision({ kind: 'wait' }, 'cluster not initialized: waiting for the member that bootstraps it');
  const leader = leaderMember(view);
  if (leader !== undefined && leader.name !== obs.me.name) {
    return decision({ kind: 'clone', from: leader }, `no data directory: cloning from leader ${leader.name}`);
  }
  return decision({ kind: 'wait' }, 'no data directory and no leader to clone from: waiting for a leader');
}

function decideStopped(view: ClusterView, obs: Observation): Decision {
  if (view.config?.pause === true) return decision({ kind: 'wait' }, 'paused: not starting postgres');
  if (obs.holdsLeader) {
    if (obs.latches.primaryStartFailures >= maxPrimaryStartFailures) {
      return decision({ kind: 'releaseLeader' }, `postgres failed to start ${obs.latches.primaryStartFailures} times: releasing the leader lock for a failover`);
    }
    return decision({ kind: 'startPrimary' }, 'postgres is not running and I hold the leader lock: restarting it in place as primary');
  }
  const leader = leaderMember(view);
  if (leader !== undefined && leader.name !== obs.me.name && obs.local.wasPrimary === true) {
    return decision({ kind: 'rejoin', leader }, `former primary: rewinding to rejoin leader ${leader.name} as a replica`);
  }
  return decision(
    { kind: 'startReplica', leader },
    leader === undefined ? 'postgres is not running and there is no leader: starting read-only' : `postgres is not running: starting as a replica of ${leader.name}`,
  );
}

/** The member a planned switchover should hand over to, or why there is none. */
function switchoverTarget(view: ClusterView, obs: Observation): ClusterMember | string {
  const wanted = view.failover?.member;
  const healthy = view.members.filter((m) => {
    const p = obs.peers?.[m.name];
    return m.name !== obs.me.name && p?.reachable === true && p.state === 'running' && p.role === 'replica' && m.data.tags?.['nofailover'] !== true
      && m.data.pgpilot?.streaming === true && (obs.sync.mode === 'off' || syncSet(view).includes(m.name));
  });
  if (wanted !== undefined && wanted !== '') {
    return healthy.find((m) => m.name === wanted) ?? `candidate ${wanted} is not a healthy, streaming${obs.sync.mode === 'off' ? '' : ' synchronous'} replica`;
  }
  const best = [...healthy].sort((a, b) => (positionOf(b, obs.peers) ?? 0) - (positionOf(a, obs.peers) ?? 0))[0];
  return best ?? 'no healthy replica to switch over to';
}

function decidePrimary(view: ClusterView, obs: Observation): Decision {
  const paused = view.config?.pause === true;
  if (obs.holdsLeader) {
    const request = view.failover;
    const due = request !== undefined && (request.scheduled_at === undefined || Date.parse(request.scheduled_at) <= obs.now);
    if (request !== undefined && due && !paused && (request.leader === undefined || request.leader === obs.me.name)) {
      const target = switchoverTarget(view, obs);
      if (typeof target === 'string') return decision({ kind: 'clearFailover' }, `switchover refused: ${target}`);
      return decision({ kind: 'switchover', candidate: target }, `switchover requested: handing over to ${target.name}`);
    }
    return decision({ kind: 'lead' }, 'no action: I am the primary and hold the leader lock');
  }
  if (view.leader === undefined) return decision({ kind: 'acquireLeader' }, 'running as primary without a leader: taking the leader lock');
  if (paused) return decision({ kind: 'wait' }, `paused: ${view.leader.name} holds the leader lock but I am left running as primary`);
  return decision({ kind: 'demote', leader: leaderMember(view) }, `member ${view.leader.name} holds the leader lock: demoting`);
}

function decideLeaderless(view: ClusterView, obs: Observation, pg: PgSnapshot): Decision {
  if (view.config?.pause === true) return decision({ kind: 'follow', leader: undefined }, 'no leader, but paused: not promoting');
  const requested = view.failover?.member;
  if (requested === obs.me.name) return decision({ kind: 'promote' }, 'a switchover or failover to me was requested: promoting');
  const requestedPeer = requested === undefined ? undefined : obs.peers?.[requested];
  if (requested !== undefined && requestedPeer?.reachable === true) {
    return decision({ kind: 'follow', leader: undefined }, `a switchover to ${requested} is under way: not competing`);
  }
  const failsafe = obs.latches.failsafeFrom;
  if (failsafe !== undefined && obs.now - failsafe.at < obs.ttlMs) {
    return decision({ kind: 'follow', leader: undefined }, `leader ${failsafe.leader} was alive ${obs.now - failsafe.at} ms ago (failsafe): waiting for it to retake the lock`);
  }
  const why = ineligibility(obs, view, pg);
  if (why === undefined) return decision({ kind: 'promote' }, 'no leader and I am the healthiest eligible replica: promoting');
  return decision({ kind: 'follow', leader: undefined }, `no leader, not promoting: ${why}`);
}

/** A replica that has not streamed for this long while the leader is on a later timeline is stuck behind a fork. */
export const stuckReplicaMs = 10_000;

function decideReplica(view: ClusterView, obs: Observation, pg: PgSnapshot): Decision {
  if (obs.holdsLeader) return decision({ kind: 'promote' }, 'I hold the leader lock while in recovery: promoting');
  const leader = leaderMember(view);
  if (leader !== undefined && leader.name !== obs.me.name) {
    const since = obs.latches.notStreamingSince;
    const leaderTimeline = leader.data.timeline ?? 0;
    if (!pg.streaming && since !== undefined && obs.now - since > stuckReplicaMs && leaderTimeline > pg.timeline) {
      return decision({ kind: 'rejoin', leader }, `not streaming for ${obs.now - since} ms and the leader is on timeline ${leaderTimeline} (mine ${pg.timeline}): rewinding to rejoin it`);
    }
  }
  if (view.leader !== undefined) return decision({ kind: 'follow', leader }, `no action: following leader ${view.leader.name}`);
  return decideLeaderless(view, obs, pg);
}

export function decide(obs: Observation): Decision {
  const view = obs.dcs;
  const { local } = obs;
  if (view === undefined) return decideWithoutDcs(obs);
  if (local.dataDir === 'missing') return decideWithoutData(view, obs);
  if (view.initialize === undefined && obs.me.bootstrap === 'existing' && local.postmasterPid === undefined) {
    return decision({ kind: 'bootstrap' }, 'cluster not initialized: bootstrapping from the data directory already here (a restored backup)');
  }
  if (local.pg !== undefined && view.initialize !== undefined && view.initialize !== '' && view.initialize !== local.pg.systemIdentifier) {
    return decision({ kind: 'wait' }, `system identifier ${local.pg.systemIdentifier} differs from the cluster's ${view.initialize}: refusing to join`);
  }
  if (local.postmasterPid === undefined) return decideStopped(view, obs);
  if (local.pg === undefined) {
    if (obs.holdsLeader && obs.latches.primaryStartFailures > 0) {
      return decision({ kind: 'releaseLeader' }, 'postgres is still not accepting connections after its start timed out: releasing the leader lock for a failover');
    }
    return decision({ kind: 'wait' }, 'postgres is running but not answering yet');
  }
  return local.pg.inRecovery ? decideReplica(view, obs, local.pg) : decidePrimary(view, obs);
}
