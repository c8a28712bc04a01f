// Physical replication slots on the primary: listing, creating and dropping them, all idempotent.
import { waitFor } from '../base/wait.js';
import { parseLsn, type Lsn } from '../model/lsn.js';
import { queryRows, type PgClient } from './query.js';

export interface SlotInfo {
  name: string;
  type: 'physical' | 'logical';
  active: boolean;
  activePid: number | undefined;
  restartLsn: Lsn | undefined;
  /** Dropped by PostgreSQL when its session ends (pg_basebackup's), never to be managed. */
  temporary: boolean;
}

interface SlotRow {
  slot_name: string;
  slot_type: 'physical' | 'logical';
  active: boolean;
  active_pid: number | null;
  restart_lsn: string | null;
  temporary: boolean;
}

const DROP_TIMEOUT_MS = 10_000;

export async function listSlots(client: PgClient): Promise<SlotInfo[]> {
  const rows = await queryRows<SlotRow>(client, 'list replication slots',
    'SELECT slot_name, slot_type, active, active_pid, restart_lsn::text, temporary FROM pg_replication_slots ORDER BY slot_name');
  return rows.map((r) => ({
    name: r.slot_name,
    type: r.slot_type,
    active: r.active,
    activePid: r.active_pid ?? undefined,
    restartLsn: r.restart_lsn === null ? undefined : parseLsn(r.restart_lsn),
    temporary: r.temporary,
  }));
}

/** Creates the slot unless it exists; it reserves WAL at once, so a replica cloned through it misses nothing. */
export async function createPhysicalSlot(client: PgClient, name: string): Promise<void> {
  await queryRows(client, `create replication slot ${name}`,
    `SELECT pg_create_physical_replication_slot($1, true)
      WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)`, [name]);
}

/** Drops the slot if it exists, terminating the walsender that holds it (retried while the standby reconnects). */
export async function dropSlot(client: PgClient, name: string): Promise<void> {
  await waitFor(`replication slot ${name} to be dropped`, async () => {
    await queryRows(client, `stop the walsender of slot ${name}`,
      `SELECT pg_terminate_backend(active_pid, 5000) FROM pg_replication_slots
        WHERE slot_name = $1 AND active_pid IS NOT NULL`, [name]);
    await queryRows(client, `drop replication slot ${name}`,
      'SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1', [name]);
    return true;
  }, { timeoutMs: DROP_TIMEOUT_MS, intervalMs: 100 });
}
