// Carries out one decision: each action is a short recipe over the local PostgreSQL and the cluster store.
import type { Logger } from '../base/log.js';
import { sleep } from '../base/wait.js';
import type { AgentConfig, ParameterValue } from '../config/types.js';
import type { ClusterStore } from '../dcs/cluster-store.js';
import type { ClusterMember, ClusterView, DynamicConfig, HistoryEntry } from '../model/cluster.js';
import { slotName } from '../pg/slot-names.js';
import type { Action } from './decide.js';
import { syncSet } from './election.js';
import type { ClientRouting, LocalPostgres, Upstream } from './local.js';
import type { Observation } from './observation.js';
import { queryPeers } from './peers.js';
import { desiredSync, nextSyncKey, standbyNames, syncCandidates } from './sync.js';

export interface ActContext {
  config: AgentConfig;
  store: ClusterStore;
  local: LocalPostgres;
  routing: ClientRouting | undefined;
  logger: Logger;
  /** Sets the member state string published in the DCS and the API. */
  setState(state: string): void;
  /** synchronous_standby_names the leader wants (added to the parameters in force). */
  setStandbyNames(names: string): void;
  standbyNames(): string;
  /** Records why a requested switchover did not happen, for the API to answer with. */
  refuseSwitchover(reason: string): void;
}

export function upstreamOf(member: ClusterMember | undefined): Upstream | undefined {
  if (member === undefined) return undefined;
  try {
    const url = new URL(member.data.conn_url);
    return { name: member.name, host: url.hostname, port: Number(url.port || 5432) };
  } catch {
    return undefined;
  }
}

/** The parameters in force: the DCS config's (or, before bootstrap wrote it, the agent config's) plus sync names. */
export function desiredParameters(config: AgentConfig, view: ClusterView | undefined, standbyNamesValue: string): Record<string, ParameterValue> {
  const base = view?.config?.postgresql.parameters ?? config.postgres.parameters;
  return standbyNamesValue === '' ? base : { ...base, synchronous_standby_names: standbyNamesValue };
}

/** Patroni's keys for synchronous replication; quorum is written as synchronous_mode: quorum (Patroni 4 style). */
export function synchronousConfig(s: AgentConfig['synchronous']): Record<string, unknown> {
  return {
    synchronous_mode: s.mode === 'off' ? false : s.mode === 'on' ? true : 'quorum',
    synchronous_node_count: s.number,
    synchronous_mode_strict: s.strict,
  };
}

export function bootstrapConfig(config: AgentConfig): DynamicConfig {
  return {
    ttl: config.ha.ttl,
    loop_wait: config.ha.loopWait,
    retry_timeout: config.ha.retryTimeout,
    maximum_lag_on_failover: config.ha.maximumLagOnFailover,
    postgresql: { parameters: config.postgres.parameters, use_pg_rewind: true },
    ...synchronousConfig(config.synchronous),
  };
}

const params = (ctx: ActContext, view: ClusterView | undefined): Record<string, ParameterValue> =>
  desiredParameters(ctx.config, view, ctx.standbyNames());

async function bootstrap(ctx: ActContext): Promise<void> {
  const { store, local, config } = ctx;
  if (!(await store.claimInitialize())) return ctx.logger.info('another member won the race to initialize the cluster');
  try {
    ctx.setState('initializing new cluster');
    await local.initdb();
    await local.configure(null, config.postgres.parameters);
    await local.start();
    await local.createRolesAndDatabases(config.bootstrap.users, config.bootstrap.databases);
    if (!(await store.acquireLeader(config.name))) throw new Error('lost the leader key while bootstrapping');
    await store.setConfig(bootstrapConfig(config), 0);
    const snap = await local.snapshot();
    if (snap === undefined) throw new Error('postgres stopped answering while bootstrapping');
    await store.setHistory([]);
    await store.setInitialize(snap.systemIdentifier);
    ctx.setState('running');
    ctx.logger.info('cluster initialized', { systemIdentifier: snap.systemIdentifier });
  } catch (e) {
    ctx.setState('initdb failed');
    await local.stop('immediate').catch(() => undefined);
    await local.removeDataDir();
    await store.releaseLeader(config.name).catch(() => false);
    await store.cancelInitialize();
    throw e;
  }
}

async function startAs(ctx: ActContext, upstream: Upstream | null | undefined, view: ClusterView | undefined): Promise<void> {
  ctx.setState('starting');
  await ctx.local.configure(upstream, params(ctx, view));
  await ctx.local.start();
  ctx.setState('running');
}

async function clone(ctx: ActContext, from: ClusterMember, view: ClusterView): Promise<void> {
  const upstream = upstreamOf(from);
  if (upstream === undefined) throw new Error(`leader ${from.name} publishes no usable conn_url`);
  ctx.setState('creating replica');
  await ctx.local.clone(upstream);
  await startAs(ctx, upstream, view);
}

/** A former primary rejoins: pg_rewind onto the leader's timeline, or a fresh clone (next loop) when that fails. */
async function rejoin(ctx: ActContext, leader: ClusterMember, view: ClusterView): Promise<void> {
  const upstream = upstreamOf(leader);
  if (upstream === undefined) throw new Error(`leader ${leader.name} publishes no usable conn_url`);
  ctx.setState('rewinding');
  await ctx.local.stop('fast');
  try {
    const rewound = await ctx.local.rewind(upstream);
    ctx.logger.info(rewound ? 'rewound onto the leader timeline' : 'no rewind needed', { leader: leader.name });
  } catch (e) {
    ctx.logger.warn('pg_rewind failed: removing the data directory to clone again', { error: e instanceof Error ? e.message : String(e) });
    await ctx.local.removeDataDir();
    ctx.setState('stopped');
    return;
  }
  await startAs(ctx, upstream, view);
}

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

/** Leader duties each loop: a slot per other member, synchronous standbys, the status key, client routing. */
async function lead(ctx: ActContext, obs: Observation, view: ClusterView): Promise<void> {
  const others = view.members.filter((m) => m.name !== ctx.config.name);
  await ctx.local.syncSlots(others.map((m) => slotName(m.name)));
  await manageSync(ctx, obs, view);
  if (obs.local.pg !== undefined) await ctx.store.setStatus(Number(obs.local.pg.walPosition));
  // A request is done once I lead: it named me, or it was a switchover away from a leader that is no longer me.
  const request = view.failover;
  if (request !== undefined && (request.member === ctx.config.name || (request.leader !== undefined && request.leader !== ctx.config.name))) {
    await ctx.store.clearFailover();
  }
  const me = upstreamOf(view.members.find((m) => m.name === ctx.config.name));
  const replicas = others.filter((m) => m.data.state === 'running' && m.data.pgpilot?.streaming === true).map(upstreamOf);
  if (ctx.routing !== undefined && me !== undefined) {
    await ctx.routing.authorize(await ctx.local.roleVerifiers(ctx.config.bootstrap.users.map((u) => u.name)));
    await ctx.routing.route(me, replicas.filter((u): u is Upstream => u !== undefined));
  }
}

async function follow(ctx: ActContext, leader: ClusterMember | undefined, view: ClusterView): Promise<void> {
  const upstream = upstreamOf(leader);
  const current = ctx.local.upstream;
  if (upstream === undefined || (current !== null && current?.name === upstream.name && current.port === upstream.port)) return;
  ctx.logger.info('pointing replication at the leader', { leader: upstream.name });
  await ctx.local.configure(upstream, params(ctx, view));
  await ctx.local.reload();
}

async function promote(ctx: ActContext, obs: Observation, view: ClusterView): Promise<void> {
  if (!obs.holdsLeader && !(await ctx.store.acquireLeader(ctx.config.name))) {
    return ctx.logger.info('another member took the leader lock first');
  }
  const before = obs.local.pg;
  ctx.setState('promoting');
  ctx.setStandbyNames('');
  await ctx.local.promote();
  await ctx.local.configure(null, params(ctx, view));
  ctx.setState('running');
  const reason = view.failover?.member === ctx.config.name ? (view.failover.leader === undefined ? 'manual failover' : 'switchover') : 'no leader: promoted';
  if (before !== undefined) {
    const entry: HistoryEntry = [before.timeline, Number(before.walPosition), reason, new Date(obs.now).toISOString(), ctx.config.name];
    await ctx.store.setHistory([...view.history, entry]);
  }
}

async function demote(ctx: ActContext, leader: ClusterMember | undefined, view: ClusterView | undefined): Promise<void> {
  ctx.setState('stopping');
  ctx.setStandbyNames('');
  await ctx.local.stop('fast');
  const upstream = upstreamOf(leader);
  if (upstream !== undefined && (await ctx.local.rewind(upstream).catch(() => undefined)) === undefined) {
    ctx.logger.warn('pg_rewind failed after demotion: removing the data directory to clone again');
    await ctx.local.removeDataDir();
    ctx.setState('stopped');
    return;
  }
  await startAs(ctx, upstream, view);
}

/**
 * A planned switchover: hold client writes, shut down cleanly (standbys receive every WAL record up to the shutdown
 * checkpoint), hand the lock over, and come back as a replica of the candidate. The candidate resumes the pooler.
 */
async function switchover(ctx: ActContext, candidate: ClusterMember, view: ClusterView): Promise<void> {
  await ctx.routing?.pauseWrites();
  ctx.setState('stopping');
  ctx.setStandbyNames('');
  await ctx.local.stop('fast');
  // Hand over only once the candidate holds the shutdown checkpoint: then it has every WAL record we wrote.
  const end = await ctx.local.shutdownCheckpoint();
  if (!(await caughtUp(candidate, end, ctx.config.name))) {
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

/** Polls the candidate's WAL position until it is past `lsn` (our shutdown checkpoint record). */
async function caughtUp(candidate: ClusterMember, lsn: bigint | undefined, me: string): Promise<boolean> {
  if (lsn === undefined) return false;
  const deadline = Date.now() + catchUpTimeoutMs;
  while (Date.now() < deadline) {
    const peer = (await queryPeers([candidate], me))[candidate.name];
    if (peer?.position !== undefined && BigInt(peer.position) > lsn) return true;
    await sleep(50);
  }
  return false;
}

export async function act(ctx: ActContext, action: Action, obs: Observation): Promise<void> {
  const view = obs.dcs;
  if (action.kind === 'demote') return demote(ctx, action.leader, view);
  if (view === undefined || action.kind === 'wait' || action.kind === 'failsafe') return;
  switch (action.kind) {
    case 'bootstrap':
      return bootstrap(ctx);
    case 'clone':
      return clone(ctx, action.from, view);
    case 'startPrimary':
      return startAs(ctx, null, view);
    case 'startReplica':
      return startAs(ctx, upstreamOf(action.leader), view);
    case 'rejoin':
      return rejoin(ctx, action.leader, view);
    case 'lead':
      return lead(ctx, obs, view);
    case 'acquireLeader':
      await ctx.store.acquireLeader(ctx.config.name);
      return;
    case 'follow':
      return follow(ctx, action.leader, view);
    case 'promote':
      return promote(ctx, obs, view);
    case 'switchover':
      return switchover(ctx, action.candidate, view);
    case 'clearFailover':
      return ctx.store.clearFailover();
    case 'releaseLeader':
      await ctx.local.stop('immediate');
      await ctx.store.releaseLeader(ctx.config.name);
      return;
  }
}
