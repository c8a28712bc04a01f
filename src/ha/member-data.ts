// Builds the member key's JSON (Patroni-compatible) from what the loop observed.
import type { AgentConfig } from '../config/types.js';
import type { MemberData } from '../model/cluster.js';
import type { PgDetails } from './local.js';
import type { PgSnapshot } from './observation.js';

export const pgpilotVersion = '0.1.0';

export function memberData(
  config: AgentConfig,
  state: string,
  pg: (PgSnapshot & PgDetails) | undefined,
  postmasterPid: number | undefined,
): MemberData {
  const { postgres, api } = config;
  const base: MemberData = {
    conn_url: `postgres://${postgres.connectAddress}:${postgres.port}/postgres`,
    api_url: `http://${api.connectAddress}:${api.port}/patroni`,
    state,
    role: pg === undefined ? 'uninitialized' : pg.inRecovery ? 'replica' : 'master',
    version: pgpilotVersion,
    tags: config.tags.nofailover ? { nofailover: true } : {},
    pgpilot: {
      agentPid: process.pid,
      ...(postmasterPid === undefined ? {} : { postgresPid: postmasterPid }),
      streaming: pg?.streaming ?? false,
    },
  };
  if (pg === undefined) return base;
  return {
    ...base,
    timeline: pg.timeline,
    xlog_location: Number(pg.walPosition),
    ...(pg.receivedPosition === undefined ? {} : { received_location: Number(pg.receivedPosition) }),
    ...(pg.replayedPosition === undefined ? {} : { replayed_location: Number(pg.replayedPosition) }),
    ...(pg.pendingRestart ? { pending_restart: true } : {}),
  };
}
