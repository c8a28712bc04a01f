// What every action recipe shares: the context they act through, upstreams, the parameters in force, starting postgres.
import type { Logger } from '../base/log.js';
import type { AgentConfig, ParameterValue } from '../config/types.js';
import type { ClusterStore } from '../dcs/cluster-store.js';
import type { ClusterMember, ClusterView, DynamicConfig } from '../model/cluster.js';
import type { ClientRouting, LocalPostgres, Upstream } from './local.js';

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

export const params = (ctx: ActContext, view: ClusterView | undefined): Record<string, ParameterValue> =>
  desiredParameters(ctx.config, view, ctx.standbyNames());

export async function startAs(ctx: ActContext, upstream: Upstream | null | undefined, view: ClusterView | undefined): Promise<void> {
  ctx.setState('starting');
  await ctx.local.configure(upstream, params(ctx, view));
  await ctx.local.start();
  ctx.setState('running');
}

