// The member's local PostgreSQL for the HA loop: the pg/ verbs bound to one agent config, with a cached connection.
import fs from 'node:fs/promises';
import path from 'node:path';
import { PgpilotError, errorMessage } from '../base/errors.js';
import type { Logger } from '../base/log.js';
import { waitFor } from '../base/wait.js';
import type { AgentConfig, ParameterValue, ReplicaMethod } from '../config/types.js';
import { parseLsn, type Lsn } from '../model/lsn.js';
import { parseSegmentName } from '../model/wal.js';
import { cloneFrom, refuseNonEmpty } from '../pg/basebackup.js';
import { readControlData, wasPrimary } from '../pg/controldata.js';
import { standbySignal, writeConf } from '../pg/conf.js';
import { writeHba } from '../pg/hba.js';
import { initdb } from '../pg/initdb.js';
import { observePostgres } from '../pg/observe.js';
import { ensureDir, readSecret, resolveRunAs, type RunAs } from '../pg/os-user.js';
import { writePgpass } from '../pg/pgpass.js';
import { readPostmasterPid, startPostgres, stopPostgres } from '../pg/postmaster.js';
import { promote } from '../pg/promote.js';
import { rewind } from '../pg/rewind.js';
import { connect, queryRows, reload, type PgClient } from '../pg/query.js';
import { ensureDatabase, ensureRole } from '../pg/roles.js';
import { slotName } from '../pg/slot-names.js';
import { createPhysicalSlot, dropSlot, listSlots } from '../pg/slots.js';
import type { LocalPostgres, PgDetails, Upstream } from './local.js';
import type { PgSnapshot } from './observation.js';

const replicationUser = 'replicator';
/** A start (crash recovery included) that takes longer counts as failed; the primary then gives its lock up. */
const startTimeoutMs = 30_000;
/** How long a replica built from a backup waits for the leader to create its slot (the leader's next pass, normally). */
const slotWaitMs = 30_000;
const methodNames: Record<ReplicaMethod, string> = { backup: 'a backup', basebackup: 'pg_basebackup' };

/** Where the agent itself connects: loopback when PostgreSQL listens on every address. */
function localHost(listen: string): string {
  const first = listen.split(',')[0]?.trim() ?? '127.0.0.1';
  return first === '*' || first === '0.0.0.0' || first === '' ? '127.0.0.1' : first === '::' ? '::1' : first;
}

export interface MemberHooks {
  /** Called when the postmaster this agent started exits, whatever the cause. */
  onPostmasterExit(why: string): void;
}

/** Where the upstream keeps WAL for this member: its slot's restart LSN, and the upstream's current timeline. */
export interface RetainedWal {
  lsn: Lsn;
  timeline: number;
}

/** What the `backup` replica method gets to build a standby's data directory. */
export interface BackupCloneRequest {
  /** Absent or empty; the method leaves it restored and owned by the run-as user (the caller removes what a failure leaves). */
  dataDir: string;
  /** The cluster's system identifier: only its backups fit. */
  systemId: string | undefined;
  /** Waits for this member's replication slot on the upstream, which then keeps every WAL from `lsn` on for it. */
  retainedWal: () => Promise<RetainedWal>;
}

export interface MemberOptions {
  /** PostgreSQL's archive_command when the cluster archives WAL (it has backup repositories); archiving is off without. */
  archiveCommand?: string;
  /** The `backup` replica method, injected by the agent (ha does not import backup): false when no backup fits. */
  cloneFromBackup?: (request: BackupCloneRequest) => Promise<boolean>;
}

export async function postgresMember(config: AgentConfig, log: Logger, hooks: MemberHooks, options: MemberOptions = {}): Promise<LocalPostgres> {
  const pgc = config.postgres;
  const runAs: RunAs = await resolveRunAs(pgc.runAs);
  const memberDir = path.dirname(path.resolve(pgc.dataDir));
  const passFile = path.join(memberDir, 'pgpass');
  await ensureDir(pgc.socketDir, 0o700, runAs);
  const superuserPassword = await readSecret(config.secrets.superuserPasswordFile);
  // Replication connections and pg_rewind (which needs the superuser) read their passwords from here, never argv.
  await writePgpass(passFile, [
    { host: '*', port: '*', database: '*', user: replicationUser, password: await readSecret(config.secrets.replicationPasswordFile) },
    { host: '*', port: '*', database: '*', user: 'postgres', password: superuserPassword },
  ], runAs);
  let client: PgClient | undefined;
  let upstream: Upstream | null | undefined;
  let parameters: Record<string, ParameterValue> | undefined;
  // A replica whose WAL receiver is down reports its last checkpoint's timeline, which can be older than the one it
  // replays: remember the highest seen since the data directory last changed hands.
  let knownTimeline = 0;

  const sql = async (): Promise<PgClient> => {
    client ??= await connect({ host: localHost(pgc.listen), port: pgc.port, user: 'postgres', password: superuserPassword, database: 'postgres', applicationName: 'pgpilot-agent' });
    return client;
  };
  const dropClient = async (): Promise<void> => {
    const c = client;
    client = undefined;
    await c?.end().catch(() => undefined);
  };
  /** Runs `work` on the cached connection; a failure drops it so the next call reconnects. */
  const withClient = async <T>(work: (c: PgClient) => Promise<T>): Promise<T> => {
    try {
      return await work(await sql());
    } catch (e) {
      await dropClient();
      throw e;
    }
  };

  /**
   * Waits for the leader to create this member's slot on `from` (it does for every member key it sees; ours is
   * published before we clone) and reads where the slot holds WAL from.
   */
  const retainedWal = async (from: Upstream): Promise<RetainedWal> => {
    const slot = slotName(config.name);
    const c = await connect({ host: from.host, port: from.port, user: 'postgres', password: superuserPassword, database: 'postgres' });
    try {
      return await waitFor(`replication slot ${slot} on ${from.name}`, async () => {
        const lsn = (await listSlots(c)).find((s) => s.name === slot)?.restartLsn;
        if (lsn === undefined) return undefined;
        const rows = await queryRows<{ w: string }>(c, 'read the current WAL file', 'SELECT pg_walfile_name(pg_current_wal_lsn()) AS w');
        return { lsn, timeline: parseSegmentName(rows[0]?.w ?? '').tli };
      }, { timeoutMs: slotWaitMs, intervalMs: 500, hint: 'the leader creates a slot for each member whose key it sees' });
    } finally {
      await c.end().catch(() => undefined);
    }
  };

  return {
    get upstream() {
      return upstream;
    },
    get parameters() {
      return parameters;
    },
    async dataDirState() {
      const exists = await fs.stat(path.join(pgc.dataDir, 'PG_VERSION')).then(() => true, () => false);
      return exists ? 'initialized' : 'missing';
    },
    postmasterPid: () => readPostmasterPid(pgc.dataDir),
    async snapshot(): Promise<(PgSnapshot & PgDetails) | undefined> {
      try {
        const o = await withClient(observePostgres);
        knownTimeline = o.inRecovery ? Math.max(knownTimeline, o.timeline) : o.timeline;
        return {
          inRecovery: o.inRecovery,
          timeline: knownTimeline,
          walPosition: o.walPosition,
          receivedPosition: o.receivedPosition,
          replayedPosition: o.replayedPosition,
          streaming: o.streaming,
          systemIdentifier: o.systemIdentifier,
          serverVersion: o.serverVersion,
          postmasterStartTime: o.postmasterStartTime.toISOString(),
          pendingRestart: o.pendingRestart,
          replication: o.replication.map((r) => ({ application_name: r.applicationName, client_addr: r.clientAddr, state: r.state, sync_state: r.syncState })),
        };
      } catch {
        return undefined;
      }
    },
    initdb: () => initdb({ binDir: pgc.binDir, dataDir: pgc.dataDir, runAs, superuser: 'postgres', superuserPasswordFile: config.secrets.superuserPasswordFile, log }),
    async configure(next, params) {
      const primary = next === null || next === undefined ? undefined
        : { host: next.host, port: next.port, user: replicationUser, appName: config.name, passFile, slot: slotName(config.name) };
      const archive = options.archiveCommand === undefined ? {} : { archive: { command: options.archiveCommand } };
      await writeConf({ dataDir: pgc.dataDir, listen: pgc.listen, port: pgc.port, socketDir: pgc.socketDir, parameters: params, ...(primary === undefined ? {} : { primary }), ...archive }, runAs);
      await writeHba(pgc.dataDir, { listen: pgc.listen, replicationUser }, runAs);
      await standbySignal(pgc.dataDir, next !== null, runAs);
      upstream = next;
      parameters = params;
    },
    // Fenced: the postmaster dies with this agent, so a primary never outlives the agent that holds its lease.
    start: () => startPostgres({ binDir: pgc.binDir, dataDir: pgc.dataDir, runAs, logFile: pgc.logFile, log, dieWithParent: true, onExit: (why) => hooks.onPostmasterExit(why), timeoutMs: startTimeoutMs }),
    async stop(mode) {
      await dropClient();
      await stopPostgres(pgc.dataDir, mode, 60_000, log);
    },
    async clone(from, systemId) {
      const methods = config.ha.replicaMethods;
      // Nothing was there before: a failed method's leftovers can go before the next one starts.
      await refuseNonEmpty(pgc.dataDir);
      for (const [i, method] of methods.entries()) {
        if (method === 'basebackup') {
          return cloneFrom({ binDir: pgc.binDir, dataDir: pgc.dataDir, runAs, host: from.host, port: from.port, user: replicationUser, passFile, appName: config.name, log });
        }
        const next = methods[i + 1];
        const then = next === undefined ? 'no replica method left' : `falling back to ${methodNames[next]}`;
        try {
          if (options.cloneFromBackup === undefined) throw new Error('no backup repository is configured');
          if (await options.cloneFromBackup({ dataDir: pgc.dataDir, systemId, retainedWal: () => retainedWal(from) })) return;
          log.info(`no usable backup for this replica: ${then}`);
        } catch (e) {
          log.warn(`could not create the replica from a backup: ${then}`, { error: errorMessage(e) });
        }
        await fs.rm(pgc.dataDir, { recursive: true, force: true });
      }
      throw new PgpilotError('State', `no replica method (${methods.join(', ')}) created the data directory`, {
        hint: 'see the warnings above; add basebackup to ha.replicaMethods to clone from the leader when no backup fits',
      });
    },
    async promote() {
      await promote({ binDir: pgc.binDir, dataDir: pgc.dataDir, runAs, timeoutMs: 60_000, log });
    },
    async createRolesAndDatabases(users, databases) {
      await withClient(async (c) => {
        await ensureRole(c, { name: replicationUser, options: [], replication: true, passwordFile: config.secrets.replicationPasswordFile });
        for (const u of users) await ensureRole(c, { name: u.name, options: u.options, passwordFile: u.passwordFile });
        for (const d of databases) await ensureDatabase(c, d);
      });
    },
    async syncSlots(wanted) {
      await withClient(async (c) => {
        const slots = (await listSlots(c)).filter((s) => s.type === 'physical' && !s.temporary);
        // A slot in use stays even when its member key is missing: keys expire with their lease during an etcd
        // outage, and dropping the slot would cut a streaming replica. A removed member stops streaming first.
        for (const s of slots) if (!wanted.includes(s.name) && !s.active) await dropSlot(c, s.name);
        for (const name of wanted) if (!slots.some((s) => s.name === name)) await createPhysicalSlot(c, name);
      });
    },
    reload: () => withClient(reload),
    async removeDataDir() {
      await dropClient();
      knownTimeline = 0;
      await fs.rm(pgc.dataDir, { recursive: true, force: true });
    },
    async receivedPositionOf(member) {
      const c = await connect({ host: member.host, port: member.port, user: 'postgres', password: superuserPassword, database: 'postgres', connectTimeoutMs: 1000 });
      try {
        const rows = await queryRows<{ lsn: string | null }>(c, 'read the received WAL position', 'SELECT pg_last_wal_receive_lsn()::text AS lsn');
        const lsn = rows[0]?.lsn;
        return lsn === null || lsn === undefined ? undefined : parseLsn(lsn);
      } finally {
        await c.end().catch(() => undefined);
      }
    },
    roleVerifiers: (names) =>
      withClient(async (c) => {
        const rows = await queryRows<{ rolname: string; rolpassword: string | null }>(c, 'read role verifiers',
          'SELECT rolname, rolpassword FROM pg_authid WHERE rolname = ANY($1) ORDER BY rolname', [names]);
        return rows.flatMap((r) => (r.rolpassword === null ? [] : [{ user: r.rolname, verifier: r.rolpassword }]));
      }),
    async shutdownCheckpoint() {
      try {
        return (await readControlData({ binDir: pgc.binDir, dataDir: pgc.dataDir, runAs })).checkpointLsn;
      } catch {
        return undefined;
      }
    },
    async wasPrimary() {
      try {
        return wasPrimary(await readControlData({ binDir: pgc.binDir, dataDir: pgc.dataDir, runAs }));
      } catch {
        return undefined;
      }
    },
    async rewind(from) {
      await dropClient();
      // pg_rewind reads the source's timeline from its pg_control, which a promotion updates only at the next
      // checkpoint: without one it may report "no rewind required" for a diverged former primary.
      const source = await connect({ host: from.host, port: from.port, user: 'postgres', password: superuserPassword, database: 'postgres', statementTimeoutMs: 300_000 });
      try {
        await source.query('CHECKPOINT');
      } finally {
        await source.end().catch(() => undefined);
      }
      knownTimeline = 0;
      const { rewound } = await rewind({ binDir: pgc.binDir, dataDir: pgc.dataDir, runAs, source: { host: from.host, port: from.port, user: 'postgres', passFile }, log });
      return rewound;
    },
    close: dropClient,
  };
}
