// A backup read from a streaming replica: the primary checkpoints before (a fresh start point) and switches WAL after.
import { PgpilotError } from '../base/errors.js';
import { waitFor } from '../base/wait.js';
import { segmentName } from '../model/wal.js';
import { parseLsn } from '../model/lsn.js';
import { type ConnectOptions, type PgClient, connect } from '../pg/query.js';

/** How long the replica may take to replay the primary's checkpoint. */
const replayTimeoutMs = 60_000;

async function onPrimary<T>(primary: ConnectOptions, work: (client: PgClient) => Promise<T>): Promise<T> {
  const client = await connect({ ...primary, statementTimeoutMs: 0, applicationName: 'pgpilot backup' });
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * A backup started on a replica begins at the replica's last restartpoint, which follows the primary's checkpoints.
 * The primary checkpoints now and the replica replays that checkpoint first, so the backup starts from there rather
 * than minutes back (less WAL to replay on restore, and an incremental's reference is recent).
 */
export async function checkpointForStandby(primary: ConnectOptions, standby: PgClient, member: string): Promise<void> {
  const checkpoint = await onPrimary(primary, async (client) => {
    await client.query('CHECKPOINT');
    const r = await client.query<{ lsn: string }>('SELECT checkpoint_lsn::text AS lsn FROM pg_control_checkpoint()');
    return r.rows[0]?.lsn;
  });
  if (checkpoint === undefined) throw new PgpilotError('Postgres', 'pg_control_checkpoint() on the primary returned nothing');
  await waitFor(`replica ${member} to replay the primary's checkpoint at ${checkpoint}`, async () => {
    const r = await standby.query<{ done: boolean }>('SELECT pg_last_wal_replay_lsn() > $1::pg_lsn AS done', [checkpoint]);
    return r.rows[0]?.done === true;
  }, { timeoutMs: replayTimeoutMs, intervalMs: 50, hint: `check that ${member} streams from the primary (pgpilot status), or set spec.backup.fromStandby: false` });
}

/**
 * A replica cannot switch WAL, so the segment holding the backup's stop point is archived only once the primary
 * leaves it: the primary switches when it is still writing that segment.
 */
export async function switchPrimaryWal(primary: ConnectOptions, timeline: number, stopWal: string): Promise<void> {
  await onPrimary(primary, async (client) => {
    const r = await client.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn');
    const lsn = r.rows[0]?.lsn;
    if (lsn !== undefined && segmentName(timeline, parseLsn(lsn)) === stopWal) await client.query('SELECT pg_switch_wal()');
  });
}
