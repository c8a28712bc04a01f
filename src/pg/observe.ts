// One-round-trip observation of a running PostgreSQL: role, timeline, WAL positions, identity and replication.
import { assert } from '../base/errors.js';
import { parseLsn, type Lsn } from '../model/lsn.js';
import { queryRows, type PgClient } from './query.js';

export interface ReplicationRow {
  applicationName: string;
  clientAddr: string | null;
  state: string;
  syncState: string;
  sentLsn: Lsn | undefined;
  writeLsn: Lsn | undefined;
  flushLsn: Lsn | undefined;
  replayLsn: Lsn | undefined;
}

export interface PostgresObservation {
  inRecovery: boolean;
  timeline: number;
  /** Primary: the current write position; replica: the further of received and replayed. */
  walPosition: Lsn;
  receivedPosition: Lsn | undefined;
  replayedPosition: Lsn | undefined;
  /** A WAL receiver is streaming from an upstream. */
  streaming: boolean;
  /** pg_control's system identifier, as text (it does not fit a double). */
  systemIdentifier: string;
  /** server_version_num, e.g. 150007. */
  serverVersion: number;
  postmasterStartTime: Date;
  /** Some changed setting waits for a restart. */
  pendingRestart: boolean;
  /** pg_stat_replication: the standbys streaming from this server. */
  replication: ReplicationRow[];
}

/** The raw row of OBSERVE_SQL. */
export interface ObserveRow {
  in_recovery: boolean;
  wal_file: string | null;
  current_lsn: string | null;
  received_lsn: string | null;
  replayed_lsn: string | null;
  received_tli: number | null;
  receiver_status: string | null;
  checkpoint_tli: number;
  system_identifier: string;
  server_version: number;
  postmaster_start_time: Date;
  pending_restart: boolean;
  replication: Array<Record<keyof ReplicationRow, string | null>>;
}

const OBSERVE_SQL = `
SELECT pg_is_in_recovery() AS in_recovery,
       CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_walfile_name(pg_current_wal_lsn()) END AS wal_file,
       CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn()::text END AS current_lsn,
       pg_last_wal_receive_lsn()::text AS received_lsn,
       pg_last_wal_replay_lsn()::text AS replayed_lsn,
       r.received_tli,
       r.status AS receiver_status,
       (SELECT timeline_id FROM pg_control_checkpoint()) AS checkpoint_tli,
       (SELECT system_identifier::text FROM pg_control_system()) AS system_identifier,
       current_setting('server_version_num')::int AS server_version,
       pg_postmaster_start_time() AS postmaster_start_time,
       EXISTS (SELECT 1 FROM pg_settings WHERE pending_restart) AS pending_restart,
       (SELECT coalesce(json_agg(json_build_object(
                'applicationName', application_name, 'clientAddr', host(client_addr), 'state', state,
                'syncState', sync_state, 'sentLsn', sent_lsn, 'writeLsn', write_lsn, 'flushLsn', flush_lsn,
                'replayLsn', replay_lsn)), '[]')
          FROM pg_stat_replication) AS replication
  FROM (SELECT 1) AS one LEFT JOIN pg_stat_wal_receiver r ON true`;

export async function observePostgres(client: PgClient): Promise<PostgresObservation> {
  const [row] = await queryRows<ObserveRow>(client, 'observe PostgreSQL', OBSERVE_SQL);
  assert(row !== undefined, 'the observation query returns one row');
  return toObservation(row);
}

/** Interprets the raw row; pure. */
export function toObservation(row: ObserveRow): PostgresObservation {
  const received = optionalLsn(row.received_lsn);
  const replayed = optionalLsn(row.replayed_lsn);
  return {
    inRecovery: row.in_recovery,
    timeline: timelineOf(row),
    walPosition: optionalLsn(row.current_lsn) ?? maxLsn(received, replayed),
    receivedPosition: received,
    replayedPosition: replayed,
    streaming: row.receiver_status === 'streaming',
    systemIdentifier: row.system_identifier,
    serverVersion: row.server_version,
    postmasterStartTime: row.postmaster_start_time,
    pendingRestart: row.pending_restart,
    replication: row.replication.map((r) => ({
      applicationName: r.applicationName ?? '',
      clientAddr: r.clientAddr,
      state: r.state ?? '',
      syncState: r.syncState ?? '',
      sentLsn: optionalLsn(r.sentLsn),
      writeLsn: optionalLsn(r.writeLsn),
      flushLsn: optionalLsn(r.flushLsn),
      replayLsn: optionalLsn(r.replayLsn),
    })),
  };
}

/**
 * A primary's timeline is in the name of its current WAL file (pg_control lags right after a promotion); a
 * replica's is the one its receiver streams, else the last checkpoint's.
 */
function timelineOf(row: ObserveRow): number {
  if (row.wal_file !== null) return parseInt(row.wal_file.slice(0, 8), 16);
  return row.received_tli !== null && row.received_tli > 0 ? row.received_tli : row.checkpoint_tli;
}

function optionalLsn(text: string | null): Lsn | undefined {
  return text === null ? undefined : parseLsn(text);
}

function maxLsn(a: Lsn | undefined, b: Lsn | undefined): Lsn {
  return [a ?? 0n, b ?? 0n].reduce((x, y) => (x > y ? x : y));
}
