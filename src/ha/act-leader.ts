// The leader's duties each pass (slots, synchronous standbys, status, routing) and a planned switchover's hand-over.
import { sleep } from '../base/wait.js';
import type { ClusterMember, ClusterView } from '../model/cluster.js';
import { slotName } from '../pg/slot-names.js';
import { startAs, upstreamOf, type ActContext } from './act-context.js';
import { syncSet } from './election.js';
import type { Upstream } from './local.js';
import type { Observation } from './observation.js';
import { desiredSync, nextSyncKey, standbyNames, syncCandidates } from './sync.js';

/** The leader's synchronous standbys: names first, sync key after PostgreSQL confirms (see sync.ts). */
async function manageSync(ctx: ActContext, obs: Observation, view: ClusterView): Promise<void> {
  const rows = obs.local.pg?.replication ?? [];
  const members = view.members.filter((m) => m.name !== ctx.config.name).map((m) => ({ name: m.name, nofailover: m.data.tags?.['nofailover'] === true }));
  const wanted = desiredSync(obs.sync, syncCandidates(rows, members));
  const current = syncSet(view);
  const reported = rows.filter((r) => r.sync_state === 'sync' || r.sync_state === 'quorum').map((r) => r.application_name);
  const next = nextSyncKey(current, wanted, reported);
  const keyChanged = next.join(',') !== current.join(',') || (obs.sync.mode !== 'off' && view.sync?.leader !== ctx.config.name);
  // A member leaves the key before it leaves synchronous_standby_names (this loop), joins after (a later loop).
  if (keyChanged && obs.sync.mode !== 'off') await ctx.store.setSync(ctx.config.name, next);
  if (obs.sync.mode === 'off' && view.sync !== undefined && current.length > 0) await ctx.store.setSync(ctx.config.name, []);
  ctx.setStandbyNames(standbyNames(obs.sync, wanted));
}

/** Points the poolers at this leader and its streaming replicas (first of the leader's duties: clients wait on it). */
export async function routeClients(ctx: ActContext, view: ClusterView): Promise<void> {
  const me = upstreamOf(view.members.find((m) => m.name === ctx.config.name));
  if (ctx.routing === undefined || me === undefined) return;
  const replicas = view.members.filter((m) => m.name !== ctx.config.name && m.data.state === 'running' && m.data.pgpilot?.streaming === true);
  await ctx.routing.route(me, replicas.map(upstreamOf).filter((u): u is Upstream => u !== undefined));
  await ctx.routing.authorize(await ctx.local.roleVerifiers(ctx.config.bootstrap.users.map((u) => u.name)));
}

/** Leader duties each loop: client routing, a slot per other member, synchronous standbys, the status key. */
export async function lead(ctx: ActContext, obs: Observation, view: ClusterView): Promise<void> {
  await routeClients(ctx, view);
  const others = view.members.filter((m) => m.name !== ctx.config.name);
  await ctx.local.syncSlots(others.map((m) => slotName(m.name)));
  await manageSync(ctx, obs, view);
  if (obs.local.pg !== undefined) await ctx.store.setStatus(Number(obs.local.pg.walPosition));
  // A request is done once I lead: it named me, or it was a switchover away from a leader that is no longer me.
  const request = view.failover;
  if (request !== undefined && (request.member === ctx.config.name || (request.leader !== undefined && request.leader !== ctx.config.name))) {
    await ctx.store.clearFailover();
  }
}

/**
 * A planned switchover: hold client writes, shut down cleanly (standbys receive every WAL record up to the shutdown
 * checkpoint), hand the lock over, and come back as a replica of the candidate. The candidate resumes the pooler.
 */
export async function switchover(ctx: ActContext, candidate: ClusterMember, view: ClusterView): Promise<void> {
  await ctx.routing?.pauseWrites();
  ctx.setState('stopping');
  ctx.setStandbyNames('');
  await ctx.local.stop('fast');
  // Hand over only once the candidate holds the shutdown checkpoint: then it has every WAL record we wrote.
  const end = await ctx.local.shutdownCheckpoint();
  if (!(await caughtUp(ctx, candidate, end))) {
    const reason = `candidate ${candidate.name} did not receive the shutdown checkpoint within ${catchUpTimeoutMs} ms: staying primary`;
    ctx.logger.warn(`switchover cancelled: ${reason}`);
    ctx.refuseSwitchover(reason);
    await ctx.store.clearFailover();
    await startAs(ctx, null, view);
    return;
  }
  await ctx.store.releaseLeader(ctx.config.name);
  ctx.logger.info('handed the leader lock over', { candidate: candidate.name });
  await startAs(ctx, upstreamOf(candidate), view);
}

const catchUpTimeoutMs = 5000;

/**
 * Polls the candidate's PostgreSQL (not its agent, whose view is up to a loop old) until it has received WAL past
 * `lsn`, our shutdown checkpoint record.
 */
async function caughtUp(ctx: ActContext, candidate: ClusterMember, lsn: bigint | undefined): Promise<boolean> {
  const upstream = upstreamOf(candidate);
  if (lsn === undefined || upstream === undefined) return false;
  const deadline = Date.now() + catchUpTimeoutMs;
  while (Date.now() < deadline) {
    const received = await ctx.local.receivedPositionOf(upstream).catch(() => undefined);
    if (received !== undefined && received > lsn) return true;
    await sleep(10);
  }
  return false;
}

