// Who may become the leader when there is none: eligibility, synchronous-replication safety and the healthiest member.
import type { ClusterMember, ClusterView } from '../model/cluster.js';
import type { Observation, PeerState, PgSnapshot } from './observation.js';

/** The members the sync key says hold every acknowledged commit (Patroni writes them comma-separated). */
export function syncSet(view: ClusterView): string[] {
  const raw = view.sync?.sync_standby;
  return typeof raw === 'string' && raw !== '' ? raw.split(',').map((s) => s.trim()) : [];
}

/** A member's WAL position: fresh from its API when we asked, else what its member key last said. */
export function positionOf(member: ClusterMember, peers: Record<string, PeerState> | undefined): number | undefined {
  const fresh = peers?.[member.name];
  if (fresh !== undefined) return fresh.reachable ? fresh.position : undefined;
  const d = member.data;
  return Math.max(d.received_location ?? 0, d.replayed_location ?? 0, d.xlog_location ?? 0);
}

function isCandidate(member: ClusterMember, peers: Record<string, PeerState> | undefined): boolean {
  const fresh = peers?.[member.name];
  const running = fresh === undefined ? member.data.state === 'running' : fresh.reachable && fresh.state === 'running';
  return running && member.data.tags?.['nofailover'] !== true;
}

/** Why synchronous replication forbids this replica to take over, or undefined when it may. */
function syncObjection(obs: Observation, view: ClusterView): string | undefined {
  if (obs.sync.mode === 'off') return undefined;
  const set = syncSet(view);
  // An empty set: the primary was running asynchronously (non-strict) and the usual election applies; strict mode
  // kept commits waiting for some standby but cannot say which, so it does not guess.
  if (set.length === 0) return obs.sync.strict ? 'synchronous mode is strict and no member is known to hold every acknowledged commit' : undefined;
  if (!set.includes(obs.me.name)) return `synchronous mode is on and I am not a synchronous standby (${set.join(', ')})`;
  if (obs.sync.mode === 'on') return undefined;
  // Quorum: a commit reached `number` of the set; seeing set.length - number + 1 of them covers every commit.
  const needed = set.length - obs.sync.number + 1;
  const visible = set.filter((name) => {
    if (name === obs.me.name) return true;
    const m = view.members.find((x) => x.name === name);
    return m !== undefined && positionOf(m, obs.peers) !== undefined;
  });
  if (visible.length < needed) return `quorum: I see ${visible.length} of the synchronous set, ${needed} needed to know every commit`;
  return undefined;
}

/** Why this replica may not take over a leaderless cluster, or undefined when it may. */
export function ineligibility(obs: Observation, view: ClusterView, pg: PgSnapshot): string | undefined {
  if (obs.me.nofailover) return 'tagged nofailover';
  // The member initializing the cluster takes the lock when it is done (a replica of a restored cluster can start first).
  if (view.initialize === undefined || view.initialize === '') return 'the cluster is being initialized: the bootstrapping member takes the lock';
  const mine = Number(pg.receivedPosition !== undefined && pg.receivedPosition > pg.walPosition ? pg.receivedPosition : pg.walPosition);
  const leaderPosition = view.optime;
  const synchronous = obs.sync.mode !== 'off' && syncSet(view).length > 0;
  if (!synchronous && leaderPosition !== undefined && leaderPosition - mine > obs.maximumLagOnFailover) {
    return `lag ${leaderPosition - mine} bytes exceeds maximum_lag_on_failover ${obs.maximumLagOnFailover}`;
  }
  const sync = syncObjection(obs, view);
  if (sync !== undefined) return sync;
  const rivals = synchronous ? view.members.filter((m) => syncSet(view).includes(m.name)) : view.members;
  const better = rivals.find((m) => {
    if (m.name === obs.me.name || !isCandidate(m, obs.peers)) return false;
    const theirs = positionOf(m, obs.peers) ?? -1;
    return theirs > mine || (theirs === mine && m.name < obs.me.name);
  });
  return better === undefined ? undefined : `member ${better.name} is healthier (WAL ${positionOf(better, obs.peers)} > ${mine})`;
}
