// Point-in-time recovery measured alike for both tools: restore, replay to an LSN, promotion; phases from the PG log.
import fs from 'node:fs/promises';
import path from 'node:path';
import { sleep } from '../../src/base/wait.js';
import { freePortRange } from '../../src/runner/ports.js';
import { pgpilotBin } from '../../src/runner/processes.js';
import { processAlive } from '../../src/runner/state.js';
import { resolveRunAs } from '../../src/pg/os-user.js';
import type { WriterTarget } from '../ha/writer.js';
import { postmasterPid } from '../ha/procs.js';
import { startPostgres, type PgbackrestSide } from '../backup/pgbackrest.js';
import { superuser, writeManifest, type PgpilotSide } from '../backup/pgpilot.js';
import type { RestoreRun } from '../backup/runs.js';
import { peakOf, runOk, watching } from '../backup/sample.js';
import { sql } from '../backup/workload.js';
import { fingerprint, type Fingerprint } from './wal.js';

/** What the PostgreSQL log says about the first start in it (times: ms since the epoch). */
export interface RecoveryLog {
  /** `starting PostgreSQL`: the postmaster started. */
  startedAt?: number;
  redoStart?: { at: number; lsn: string };
  consistentAt?: number;
  /** `recovery stopping after WAL location (LSN) "…"` (or before): where the target stopped the replay. */
  stopping?: { at: number; message: string };
  redoDone?: { at: number; lsn: string; message: string };
  archiveRecoveryCompleteAt?: number;
  /** `database system is ready to accept connections`: promoted, accepting writes. */
  readyAt?: number;
  /** `restored log file "…" from archive` lines: files restore_command fetched. */
  restoredFiles: number;
  /** FATAL and PANIC lines. */
  errors: string[];
}

const LINE = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d(?:\.\d+)?) (\S+) \[\d+\] (\w+):\s+(.*)$/;

/** A log_line_prefix `%m` time (2026-12-02 03:25:56.123 UTC) in ms since the epoch; undefined for a zone name it cannot place. */
function logTime(date: string, time: string, zone: string): number | undefined {
  const offset = zone === 'UTC' || zone === 'GMT' ? 'Z' : /^[+-]\d\d$/.test(zone) ? `${zone}:00` : /^[+-]\d\d:?\d\d$/.test(zone) ? zone : undefined;
  if (offset === undefined) return undefined;
  const ms = Date.parse(`${date}T${time}${offset}`);
  return Number.isNaN(ms) ? undefined : ms;
}

/** Reads the events of the first server start in a PostgreSQL log (stderr with the default `%m [%p] ` prefix). */
export function parseRecoveryLog(text: string): RecoveryLog {
  const out: RecoveryLog = { restoredFiles: 0, errors: [] };
  for (const line of text.split('\n')) {
    const m = LINE.exec(line);
    if (m === null) continue;
    const at = logTime(m[1] ?? '', m[2] ?? '', m[3] ?? '');
    const [level, msg] = [m[4] ?? '', m[5] ?? ''];
    if (at === undefined) throw new Error(`PostgreSQL log time zone "${m[3] ?? ''}" is not UTC, GMT or a numeric offset: set log_timezone`);
    if (msg.startsWith('starting PostgreSQL')) {
      if (out.startedAt !== undefined) break;
      out.startedAt = at;
    } else if (level === 'FATAL' || level === 'PANIC') out.errors.push(msg);
    else if (/^restored log file ".*" from archive/.test(msg)) out.restoredFiles++;
    else if (msg.startsWith('redo starts at ')) out.redoStart = { at, lsn: msg.slice('redo starts at '.length).trim() };
    else if (msg.startsWith('consistent recovery state reached')) out.consistentAt ??= at;
    else if (msg.startsWith('recovery stopping ')) out.stopping = { at, message: msg };
    else if (msg.startsWith('redo done at ')) out.redoDone = { at, lsn: msg.split(' ')[3] ?? '', message: msg };
    else if (msg.startsWith('archive recovery complete')) out.archiveRecoveryCompleteAt = at;
    else if (msg.startsWith('database system is ready to accept connections')) out.readyAt ??= at;
  }
  return out;
}

/** One tool's point-in-time recovery (times: ms since the epoch, measured by the benchmark unless said otherwise). */
export interface PitrRun {
  startedAt: number;
  /** The files of the backup are in place: pgpilot, its WAL download begins (restore-wal/ created); pgBackRest, its restore command exited. */
  filesAt: number;
  /** pgpilot only: the restore command exited, with the new cluster up. */
  commandEndAt?: number;
  /** pgBackRest only: the benchmark saw pg_is_in_recovery() false (polled every 100 ms). */
  promotedSeenAt?: number;
  log: RecoveryLog;
  /** Peak RSS of the tool's processes: pgpilot, the restore CLI process (it also downloads the WAL); pgBackRest, its restore, then its archive-get processes. */
  peakRssBytes: number;
  /** pgBackRest only: its restore command, measured as in the full restore. */
  restore?: RestoreRun;
  /** The promoted server's pgbench tables. */
  recovered: Fingerprint | undefined;
  timeline: number | undefined;
}

async function birthOrNow(p: string): Promise<number | undefined> {
  const st = await fs.stat(p).catch(() => undefined);
  if (st === undefined) return undefined;
  return st.birthtimeMs > 0 ? st.birthtimeMs : Date.now();
}

const timelineOf = async (t: WriterTarget): Promise<number | undefined> =>
  (await sql<{ tli: number }>(t, 'SELECT timeline_id AS tli FROM pg_control_checkpoint()'))[0]?.tli;

/**
 * `pgpilot restore NAME --set LABEL --to-new NEW --new-file M --lsn LSN`: restores into a new cluster (its own ports and
 * repository), fetches the WAL, recovers in a private PostgreSQL, and starts the new cluster. Its files tell the
 * phases: restore-wal/ is created when the files are done; the member's postgres.log has the recovery's start and end.
 * `newName` is left running: the caller destroys it.
 */
export async function pgpilotPitr(p: PgpilotSide, o: { base: string; newName: string; label: string; lsn: string }): Promise<PitrRun & { manifest: string }> {
  const manifest = path.join(o.base, `${o.newName}.yaml`);
  const port = await writeManifest(manifest, o.newName, path.join(o.base, `${o.newName}-repo`));
  const memberDir = path.join(p.home, o.newName, 'members', `${o.newName}-0`);
  let filesAt: number | undefined;
  let running = true;
  const watcher = (async () => {
    while (running && filesAt === undefined) {
      filesAt = await birthOrNow(path.join(memberDir, 'restore-wal'));
      await sleep(20);
    }
  })();
  const startedAt = Date.now();
  const argv = [process.execPath, pgpilotBin, 'restore', p.name, '--set', o.label, '--to-new', o.newName, '--new-file', manifest, '--lsn', o.lsn];
  const { watched } = await watching({ program: 'node', parts: [pgpilotBin, 'restore', '--to-new', o.newName] }, () => runOk(argv, { PGPILOT_HOME: p.home })).finally(() => {
    running = false;
  });
  const commandEndAt = Date.now();
  await watcher;
  const log = parseRecoveryLog(await fs.readFile(path.join(memberDir, 'postgres.log'), 'utf8'));
  const t = await superuser(p.home, o.newName, port);
  return {
    manifest, startedAt, filesAt: filesAt ?? NaN, commandEndAt, log, peakRssBytes: peakOf(watched),
    recovered: await fingerprint(t), timeline: await timelineOf(t),
  };
}

/** Waits until PostgreSQL on `dataDir` (reached at `t`) is out of recovery; fails when its postmaster is gone. */
async function waitPromoted(t: WriterTarget, dataDir: string, logFile: string, timeoutMs = 6 * 3600_000): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    const rows = await sql<{ r: boolean }>(t, 'SELECT pg_is_in_recovery() AS r', 5000).catch(() => undefined);
    if (rows?.[0]?.r === false) return Date.now();
    if (rows === undefined && Date.now() - t0 > 3000 && !processAlive(await postmasterPid(dataDir))) {
      const tail = (await fs.readFile(logFile, 'utf8').catch(() => '')).split('\n').filter((l) => /FATAL|PANIC|ERROR/.test(l)).slice(-3).join('\n');
      throw new Error(`PostgreSQL on ${dataDir} stopped during recovery: ${tail || 'see its log'}`);
    }
    if (Date.now() - t0 > timeoutMs) throw new Error(`PostgreSQL on ${dataDir} was still in recovery after ${timeoutMs / 1000} s`);
    await sleep(100);
  }
}

/**
 * `pgbackrest restore --set=LABEL --type=lsn --target=LSN --target-action=promote` into the empty `dir`, then PostgreSQL
 * started on it as the postgres user (pg_ctl, its own port and socket, archive_mode off, local trust) and waited for
 * until it is out of recovery; its restore_command is pgBackRest's archive-get. `started` gets the running server
 * (the caller stops it).
 */
export async function pgbackrestPitr(b: PgbackrestSide, o: { base: string; dir: string; label: string; lsn: string; started(s: { stop(): Promise<void> }): void }): Promise<PitrRun> {
  const pgUser = await resolveRunAs('postgres');
  const runDir = path.join(o.base, 'pitr-pgbackrest-run');
  await fs.mkdir(runDir, { mode: 0o700 });
  await fs.chown(runDir, pgUser.uid, pgUser.gid);
  const hba = path.join(runDir, 'hba.conf');
  await fs.writeFile(hba, 'local all all trust\n', { mode: 0o600 });
  await fs.chown(hba, pgUser.uid, pgUser.gid);
  const logFile = path.join(runDir, 'postgres.log');
  const port = await freePortRange(1);
  const t: WriterTarget = { host: runDir, port, user: 'postgres', password: '', database: 'postgres' };

  const startedAt = Date.now();
  const restore = await b.restore(o.label, o.dir, ['--type=lsn', `--target=${o.lsn}`, '--target-action=promote'], false);
  const filesAt = Date.now();
  const { result: promotedSeenAt, watched } = await watching(b.processes, async () => {
    o.started(await startPostgres(o.dir, logFile, { port: String(port), listen_addresses: '', unix_socket_directories: runDir, hba_file: hba, archive_mode: 'off' }, false));
    return waitPromoted(t, o.dir, logFile);
  });
  return {
    startedAt, filesAt, promotedSeenAt, log: parseRecoveryLog(await fs.readFile(logFile, 'utf8')),
    peakRssBytes: Math.max(restore.peakRssBytes, peakOf(watched)), restore,
    recovered: await fingerprint(t), timeline: await timelineOf(t),
  };
}
