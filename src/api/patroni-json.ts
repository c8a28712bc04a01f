// GET /patroni: a member's status as Patroni 3.0.2's JSON document, so patronictl and Patroni-minded tools read it.
import type { MemberStatus } from '../model/cluster.js';

export type PatroniRole = 'master' | 'replica' | 'uninitialized';

export interface PrimaryXlog {
  location: number | null;
}

export interface ReplicaXlog {
  received_location: number | null;
  replayed_location: number | null;
  /** Patroni reports pg_last_xact_replay_timestamp(); the agent does not track it. */
  replayed_timestamp: null;
  /** Patroni reports pg_is_wal_replay_paused(); pgpilot never pauses replay, so false. */
  paused: false;
}

/** As in Patroni, the PostgreSQL fields are there only while it runs; state, role, patroni, dcs_last_seen always. */
export interface PatroniDocument {
  state: string;
  role: PatroniRole;
  postmaster_start_time?: string;
  server_version?: number;
  xlog?: PrimaryXlog | ReplicaXlog;
  timeline?: number;
  replication?: MemberStatus['replication'];
  database_system_identifier?: string;
  pending_restart?: true;
  tags?: { nofailover: true };
  /** The cluster is in maintenance mode (the config key's `pause`). */
  pause?: true;
  patroni: { version: string; scope: string };
  /** Seconds since epoch; Patroni's last DCS contact, here the end of the last agent loop (which reads the DCS). */
  dcs_last_seen: number;
}

const patroniRoles: Record<MemberStatus['role'], PatroniRole> = {
  primary: 'master',
  replica: 'replica',
  uninitialized: 'uninitialized',
};

export function patroniDocument(s: MemberStatus): PatroniDocument {
  return {
    state: s.state,
    role: patroniRoles[s.role],
    ...(s.state === 'running' ? postgresFields(s) : {}),
    ...(s.systemIdentifier === undefined ? {} : { database_system_identifier: s.systemIdentifier }),
    ...(s.pendingRestart ? { pending_restart: true } : {}),
    ...(s.tags.nofailover ? { tags: { nofailover: true } } : {}),
    ...(s.paused ? { pause: true } : {}),
    patroni: { version: s.version, scope: s.scope },
    dcs_last_seen: Math.floor(s.lastLoopAt / 1000),
  };
}

/** What Patroni reads from a running PostgreSQL. */
function postgresFields(s: MemberStatus): Partial<PatroniDocument> {
  const isPrimary = s.role === 'primary';
  return {
    ...(s.postmasterStartTime === undefined ? {} : { postmaster_start_time: s.postmasterStartTime }),
    ...(s.serverVersion === undefined ? {} : { server_version: s.serverVersion }),
    xlog: isPrimary ? { location: s.walPosition ?? null } : replicaXlog(s),
    ...(s.timeline === undefined ? {} : { timeline: s.timeline }),
    ...(isPrimary && s.replication.length > 0 ? { replication: s.replication } : {}),
  };
}

function replicaXlog(s: MemberStatus): ReplicaXlog {
  return {
    // Patroni falls back to the replayed position when nothing was received (WAL from the archive).
    received_location: s.receivedPosition ?? s.replayedPosition ?? null,
    replayed_location: s.replayedPosition ?? null,
    replayed_timestamp: null,
    paused: false,
  };
}
