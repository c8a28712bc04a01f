// The member's status as the REST API reports it, from what the loop last saw (pure).
import type { AgentConfig } from '../config/types.js';
import type { ClusterView, MemberStatus } from '../model/cluster.js';
import type { PgDetails } from './local.js';
import { pgpilotVersion } from './member-data.js';
import type { PgSnapshot } from './observation.js';

export interface StatusInput {
  config: AgentConfig;
  state: string;
  pg: (PgSnapshot & PgDetails) | undefined;
  view: ClusterView | undefined;
  lastLoopAt: number;
}

export function memberStatus({ config, state, pg, view, lastLoopAt }: StatusInput): MemberStatus {
  const optime = view?.optime;
  const received = pg?.receivedPosition ?? pg?.walPosition;
  return {
    name: config.name,
    scope: config.scope,
    state,
    role: pg === undefined ? 'uninitialized' : pg.inRecovery ? 'replica' : 'primary',
    isLeader: view?.leader?.name === config.name,
    timeline: pg?.timeline,
    walPosition: pg !== undefined && !pg.inRecovery ? Number(pg.walPosition) : undefined,
    receivedPosition: pg?.receivedPosition === undefined ? undefined : Number(pg.receivedPosition),
    replayedPosition: pg?.replayedPosition === undefined ? undefined : Number(pg.replayedPosition),
    lagBytes: pg?.inRecovery === true && optime !== undefined && received !== undefined ? Math.max(0, optime - Number(received)) : undefined,
    streaming: pg?.streaming ?? false,
    postmasterStartTime: pg?.postmasterStartTime,
    serverVersion: pg?.serverVersion,
    systemIdentifier: pg?.systemIdentifier,
    pendingRestart: pg?.pendingRestart ?? false,
    paused: view?.config?.pause === true,
    tags: config.tags,
    replication: pg?.replication ?? [],
    lastLoopAt,
    ttlSeconds: view?.config?.ttl ?? config.ha.ttl,
    version: pgpilotVersion,
  };
}
