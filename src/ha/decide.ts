// The single decision function of the agent loop: observation in, {action, reason} out. Pure: no I/O, no clock.
import type { ClusterMember, ClusterView } from '../model/cluster.js';
import type { Observation, PgSnapshot } from './observation.js';

export type Action =
  | { kind: 'wait' }
  | { kind: 'bootstrap' }
  | { kind: 'clone'; from: ClusterMember }
  | { kind: 'startPrimary' }
  | { kind: 'startReplica'; leader: ClusterMember | undefined }
  | { kind: 'lead' }
  | { kind: 'acquireLeader' }
  | { kind: 'follow'; leader: ClusterMember | undefined }
  | { kind: 'promote' }
  | { kind: 'demote'; leader: ClusterMember | undefined };

export interface Decision {
  action: Action;
  reason: string;
}

const decision = (action: Action, reason: string): Decision => ({ action, reason });

function leaderMember(view: ClusterView): ClusterMember | undefined {
  const name = view.leader?.name;
  return name === undefined ? undefined : view.members.find((m) => m.name === name);
}

/** The WAL position a member reported, received or replayed, whichever is further. */
function reportedPosition(member: ClusterMember): number {
  const d = member.data;
  return Math.max(d.received_location ?? 0, d.replayed_location ?? 0, d.xlog_location ?? 0);
}

/** Why this replica may not take over a leaderless cluster, or undefined when it may. */
function ineligibility(obs: Observation, view: ClusterView, pg: PgSnapshot): string | undefined {
  if (obs.me.nofailover) return 'tagged nofailover';
  const mine = Number(pg.receivedPosition ?? pg.walPosition);
  if (view.optime !== undefined && view.optime - mine > obs.maximumLagOnFailover) {
    return `lag ${view.optime - mine} bytes exceeds maximum_lag_on_failover ${obs.maximumLagOnFailover}`;
  }
  const better = view.members.find((m) => {
    if (m.name === obs.me.name || m.data.state !== 'running' || m.data.tags?.['nofailover'] === true) return false;
    const theirs = reportedPosition(m);
    return theirs > mine || (theirs === mine && m.name < obs.me.name);
  });
  return better === undefined ? undefined : `member ${better.name} is healthier (WAL ${reportedPosition(better)})`;
}

function decideWithoutData(view: ClusterView, obs: Observation): Decision {
  if (view.initialize === undefined) return decision({ kind: 'bootstrap' }, 'cluster not initialized: racing to bootstrap it');
  const leader = leaderMember(view);
  if (leader !== undefined && leader.name !== obs.me.name) {
    return decision({ kind: 'clone', from: leader }, `no data directory: cloning from leader ${leader.name}`);
  }
  return decision({ kind: 'wait' }, 'no data directory and no leader to clone from: waiting for a leader');
}

function decideStopped(view: ClusterView, obs: Observation): Decision {
  if (obs.holdsLeader) return decision({ kind: 'startPrimary' }, 'postgres is not running and I hold the leader lock: starting as primary');
  const leader = leaderMember(view);
  return decision(
    { kind: 'startReplica', leader },
    leader === undefined
      ? 'postgres is not running and there is no leader: starting read-only'
      : `postgres is not running: starting as a replica of ${leader.name}`,
  );
}

function decidePrimary(view: ClusterView, obs: Observation): Decision {
  if (obs.holdsLeader) return decision({ kind: 'lead' }, 'no action: I am the primary and hold the leader lock');
  if (view.leader === undefined) return decision({ kind: 'acquireLeader' }, 'running as primary without a leader: taking the leader lock');
  const leader = leaderMember(view);
  return decision({ kind: 'demote', leader }, `member ${view.leader.name} holds the leader lock: demoting`);
}

function decideReplica(view: ClusterView, obs: Observation, pg: PgSnapshot): Decision {
  if (obs.holdsLeader) return decision({ kind: 'promote' }, 'I hold the leader lock while in recovery: promoting');
  const leader = leaderMember(view);
  if (view.leader !== undefined) {
    return decision({ kind: 'follow', leader }, `no action: following leader ${view.leader.name}`);
  }
  const why = ineligibility(obs, view, pg);
  if (why === undefined) return decision({ kind: 'promote' }, 'no leader and I am the healthiest eligible replica: promoting');
  return decision({ kind: 'follow', leader: undefined }, `no leader, not promoting: ${why}`);
}

export function decide(obs: Observation): Decision {
  const view = obs.dcs;
  const { local } = obs;
  if (view === undefined) {
    if (local.pg !== undefined && !local.pg.inRecovery) {
      return decision({ kind: 'demote', leader: undefined }, 'DCS unreachable: cannot renew the leader lease, demoting');
    }
    return decision({ kind: 'wait' }, 'DCS unreachable: keeping the current state');
  }
  if (local.dataDir === 'missing') return decideWithoutData(view, obs);
  if (local.pg !== undefined && view.initialize !== undefined && view.initialize !== '' && view.initialize !== local.pg.systemIdentifier) {
    return decision(
      { kind: 'wait' },
      `system identifier ${local.pg.systemIdentifier} differs from the cluster's ${view.initialize}: refusing to join`,
    );
  }
  if (local.postmasterPid === undefined) return decideStopped(view, obs);
  if (local.pg === undefined) return decision({ kind: 'wait' }, 'postgres is running but not answering yet');
  return local.pg.inRecovery ? decideReplica(view, obs, local.pg) : decidePrimary(view, obs);
}
