// Carries out one decision: each action is a short recipe over the local PostgreSQL and the cluster store.
import type { ClusterMember, ClusterView, HistoryEntry } from '../model/cluster.js';
import { bootstrapConfig, params, startAs, upstreamOf, type ActContext } from './act-context.js';
import { lead, routeClients, switchover } from './act-leader.js';
import type { Action } from './decide.js';
import type { Observation } from './observation.js';

async function bootstrap(ctx: ActContext): Promise<void> {
  const { store, local, config } = ctx;
  if (!(await store.claimInitialize())) return ctx.logger.info('another member won the race to initialize the cluster');
  try {
    ctx.setState('initializing new cluster');
    // A restored data directory is adopted as it is; otherwise initdb creates one.
    if (config.bootstrap.method !== 'existing') await local.initdb();
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
    // Never delete a restored data directory: it may be the only copy of the data.
    if (config.bootstrap.method !== 'existing') await local.removeDataDir();
    await store.releaseLeader(config.name).catch(() => false);
    await store.cancelInitialize();
    throw e;
  }
}

async function clone(ctx: ActContext, from: ClusterMember, view: ClusterView): Promise<void> {
  const upstream = upstreamOf(from);
  if (upstream === undefined) throw new Error(`leader ${from.name} publishes no usable conn_url`);
  ctx.setState('creating replica');
  await ctx.local.clone(upstream, view.initialize);
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
  // Clients held by a paused pooler (switchover) go on at once, before the history and the next pass.
  await routeClients(ctx, view);
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
