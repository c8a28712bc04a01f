// Carries out one decision: each action is a short recipe over the local PostgreSQL and the cluster store.
import type { Logger } from '../base/log.js';
import type { AgentConfig, ParameterValue } from '../config/types.js';
import type { ClusterStore } from '../dcs/cluster-store.js';
import type { ClusterMember, ClusterView, DynamicConfig, HistoryEntry } from '../model/cluster.js';
import { slotName } from '../pg/slot-names.js';
import type { Action } from './decide.js';
import type { LocalPostgres, Upstream } from './local.js';
import type { Observation } from './observation.js';

export interface ActContext {
  config: AgentConfig;
  store: ClusterStore;
  local: LocalPostgres;
  logger: Logger;
  /** Sets the member state string published in the DCS and the API. */
  setState(state: string): void;
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

/** The parameters in force: the DCS config's, or (before bootstrap wrote it) the agent config's. */
export function desiredParameters(config: AgentConfig, view: ClusterView | undefined): Record<string, ParameterValue> {
  return view?.config?.postgresql.parameters ?? config.postgres.parameters;
}

export function bootstrapConfig(config: AgentConfig): DynamicConfig {
  return {
    ttl: config.ha.ttl,
    loop_wait: config.ha.loopWait,
    retry_timeout: config.ha.retryTimeout,
    maximum_lag_on_failover: config.ha.maximumLagOnFailover,
    postgresql: { parameters: config.postgres.parameters, use_pg_rewind: true },
  };
}

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

async function startAs(ctx: ActContext, upstream: Upstream | null | undefined, view: ClusterView): Promise<void> {
  ctx.setState('starting');
  await ctx.local.configure(upstream, desiredParameters(ctx.config, view));
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

/** Leader duties each loop: a slot per other member, the status key, the parameters in force. */
async function lead(ctx: ActContext, obs: Observation, view: ClusterView): Promise<void> {
  const others = view.members.filter((m) => m.name !== ctx.config.name).map((m) => slotName(m.name));
  await ctx.local.syncSlots(others);
  if (obs.local.pg !== undefined) await ctx.store.setStatus(Number(obs.local.pg.walPosition));
}

async function follow(ctx: ActContext, leader: ClusterMember | undefined, view: ClusterView): Promise<void> {
  const upstream = upstreamOf(leader);
  const current = ctx.local.upstream;
  if (upstream === undefined || (current !== null && current?.name === upstream.name && current.port === upstream.port)) return;
  ctx.logger.info('pointing replication at the leader', { leader: upstream.name });
  await ctx.local.configure(upstream, desiredParameters(ctx.config, view));
  await ctx.local.reload();
}

async function promote(ctx: ActContext, obs: Observation, view: ClusterView): Promise<void> {
  if (!obs.holdsLeader && !(await ctx.store.acquireLeader(ctx.config.name))) {
    return ctx.logger.info('another member took the leader lock first');
  }
  const before = obs.local.pg;
  ctx.setState('promoting');
  await ctx.local.promote();
  await ctx.local.configure(null, desiredParameters(ctx.config, view));
  ctx.setState('running');
  if (before !== undefined) {
    const entry: HistoryEntry = [before.timeline, Number(before.walPosition), 'no leader: promoted', new Date(obs.now).toISOString(), ctx.config.name];
    await ctx.store.setHistory([...view.history, entry]);
  }
}

async function demote(ctx: ActContext, leader: ClusterMember | undefined, view: ClusterView | undefined): Promise<void> {
  ctx.setState('stopping');
  await ctx.local.stop('fast');
  await ctx.local.configure(upstreamOf(leader), desiredParameters(ctx.config, view));
  ctx.setState('starting');
  await ctx.local.start();
  ctx.setState('running');
}

export async function act(ctx: ActContext, action: Action, obs: Observation): Promise<void> {
  const view = obs.dcs;
  if (action.kind === 'demote') return demote(ctx, action.leader, view);
  if (view === undefined || action.kind === 'wait') return;
  switch (action.kind) {
    case 'bootstrap':
      return bootstrap(ctx);
    case 'clone':
      return clone(ctx, action.from, view);
    case 'startPrimary':
      return startAs(ctx, null, view);
    case 'startReplica':
      return startAs(ctx, upstreamOf(action.leader), view);
    case 'lead':
      return lead(ctx, obs, view);
    case 'acquireLeader':
      await ctx.store.acquireLeader(ctx.config.name);
      return;
    case 'follow':
      return follow(ctx, action.leader, view);
    case 'promote':
      return promote(ctx, obs, view);
  }
}
