// The backup recipe: choose the reference, start the backup in PostgreSQL, copy files in parallel, stop, write the manifest.
import { PgpilotError, errorMessage } from '../base/errors.js';
import { collectGarbage } from '../base/gc.js';
import type { Logger } from '../base/log.js';
import { sleep, waitFor } from '../base/wait.js';
import { type Lsn, formatLsn, parseLsn } from '../model/lsn.js';
import { segmentName } from '../model/wal.js';
import { type ConnectOptions, type PgClient, connect } from '../pg/query.js';
import { type BackupManifest, type BackupType, type ChecksumError, type FileEntry, MANIFEST_FORMAT, backupDir, writeManifest } from './backup-manifest.js';
import { type StartedMarker, completeBackups, startedPath } from './catalog.js';
import type { CopyWorkerData } from './copy-worker.js';
import { type DataFile, listDataDir } from './data-files.js';
import type { CopyResult, CopyTask } from './copy-io.js';
import { blockReads } from './delta-copy.js';
import { SMALL_FILE } from './file-copy.js';
import { newLabel } from './labels.js';
import { type Repo, repoExtension } from './repo.js';
import { checkpointForStandby, switchPrimaryWal } from './standby-source.js';
import { findStored } from './wal-archive.js';
import { changedBlocksOfFile, walChangesBetween } from './wal-changes.js';
import type { WalChanges } from './wal-records.js';
import { WorkerPool } from './worker-pool.js';

export interface BackupRequest {
  type: BackupType;
  repo: Repo;
  /** The member whose data directory is read. */
  member: string;
  dataDir: string;
  /** A superuser connection to that member's PostgreSQL. */
  conn: ConnectOptions;
  /**
   * Set when `conn` is a streaming replica (spec.backup.fromStandby): a superuser connection to the primary, which
   * checkpoints before the backup and switches WAL after it. pg_control is then copied last: PostgreSQL takes the
   * end of a backup read from a standby from the minimum recovery point in the copied pg_control.
   */
  primary?: ConnectOptions;
  jobs: number;
  /** Where this member's WAL archiver leaves its segment summaries (read instead of the WAL where they fit). */
  summaryDir?: string;
  log: Logger;
  /** How long to wait for the last WAL segment to reach the archive. Default 120 s. */
  archiveTimeoutMs?: number;
  now?: () => Date;
}

interface Reference {
  manifest: BackupManifest;
  files: Map<string, FileEntry>;
}

/** Takes one backup into `repo`; a diff or incr without any full to refer to becomes a full (logged). */
export async function takeBackup(req: BackupRequest): Promise<BackupManifest> {
  const now = req.now ?? (() => new Date());
  const log = req.log.child({ repo: req.repo.name });
  // Choose what this backup refers to.
  const { type, ref } = await chooseReference(req, log);
  const fullLabel = type === 'full' ? undefined : ref?.manifest.chain[0];
  const { startTime, label } = await freeLabel(req, type, fullLabel, now);
  const dir = backupDir(label);
  log.info('backup starting', { label, type, reference: ref?.manifest.label });
  const marker: StartedMarker = { label, type, startTime: startTime.toISOString(), member: req.member, ...(ref === undefined ? {} : { reference: ref.manifest.label }) };
  await req.repo.storage.write(startedPath(label), Buffer.from(JSON.stringify(marker)));

  // Start the backup in PostgreSQL: a non-exclusive backup lives as long as this session.
  // Milliseconds spent in each step, for the log.
  const ms: Record<string, number> = {};
  let mark = Date.now();
  const lap = (step: string): void => {
    ms[step] = Date.now() - mark;
    mark = Date.now();
  };
  const client = await connect({ ...req.conn, statementTimeoutMs: 0, applicationName: 'pgpilot backup' });
  try {
    const identity = await clusterIdentity(client);
    if (identity.systemId !== req.repo.info.systemId) {
      throw new PgpilotError('Repo', `repository ${req.repo.name} belongs to system ${req.repo.info.systemId}, this cluster is ${identity.systemId}`);
    }
    if (req.primary !== undefined) await checkpointForStandby(req.primary, client, req.member);
    const startLsn = parseLsn(await scalar(client, 'SELECT pg_backup_start($1, true)::text', [label]));
    lap('start');
    const timeline = Number(await scalar(client, 'SELECT timeline_id::text FROM pg_control_checkpoint()'));
    const startXmin = await scalar(client, 'SELECT pg_snapshot_xmin(pg_current_snapshot())::text');
    // Copy the files on worker threads. They start while the data directory is listed and the WAL read.
    const copy: CopyContext = { dir, label, ref, startLsn, checksums: identity.checksums };
    const pool = copyPool(req, copy, 0, req.jobs);
    let listing: Awaited<ReturnType<typeof listDataDir>>;
    let copied: Copied;
    try {
      let changes: WalChanges | undefined;
      [listing, changes] = await Promise.all([listDataDir(req.dataDir), ref === undefined ? undefined : changesSince(req, ref.manifest, timeline, startLsn, log)]);
      // The scan's segment buffers go before the copy takes its share.
      collectGarbage();
      lap('listAndScan');
      const phases = req.primary === undefined ? [listing.files] : [listing.files.filter((f) => f.rel !== PG_CONTROL), listing.files.filter((f) => f.rel === PG_CONTROL)];
      copied = await copyFiles(req, { ...copy, changes }, phases, pool);
      lap('copy');
    } finally {
      await pool.stop();
    }
    // Stop the backup; a primary switches WAL, for a replica the primary does. Waiting for the archive is ours: PostgreSQL's own wait polls once a
    // second, ours looks at the repository itself, where restore will look.
    const stop = await client.query<{ lsn: string; labelfile: string; spcmapfile: string }>(
      'SELECT lsn::text, labelfile, spcmapfile FROM pg_backup_stop(false)',
    );
    const row = stop.rows[0];
    if (row === undefined) throw new PgpilotError('Postgres', 'pg_backup_stop returned nothing');
    const stopLsn = parseLsn(row.lsn);
    const stopWal = segmentName(timeline, stopLsn);
    if (req.primary !== undefined) await switchPrimaryWal(req.primary, timeline, stopWal);
    lap('stop');
    await waitForWal(req, stopWal);
    lap('archive');
    const manifest: BackupManifest = {
      format: MANIFEST_FORMAT,
      label,
      type,
      ...(ref === undefined ? {} : { reference: ref.manifest.label }),
      chain: [...(type === 'full' || ref === undefined ? [] : chainTo(ref.manifest, type)), label],
      systemId: identity.systemId,
      pgVersion: identity.pgVersion,
      timeline,
      startLsn: formatLsn(startLsn),
      stopLsn: formatLsn(stopLsn),
      startXmin,
      startWal: segmentName(timeline, startLsn),
      stopWal,
      startTime: startTime.toISOString(),
      stopTime: now().toISOString(),
      member: req.member,
      compress: req.repo.codec.compress,
      encrypted: req.repo.key !== undefined,
      databaseSize: copied.files.reduce((n, f) => n + f.size, 0),
      storedSize: copied.storedSize,
      readSize: copied.readSize,
      checksumErrors: copied.checksumErrors,
      backupLabel: row.labelfile,
      tablespaceMap: row.spcmapfile ?? '',
      dirs: listing.dirs,
      files: copied.files.sort((a, b) => (a.path < b.path ? -1 : 1)),
    };
    // The manifest last: only now is the backup complete.
    await writeManifest(req.repo.storage, manifest);
    await req.repo.storage.remove(startedPath(label));
    if (manifest.checksumErrors.length > 0) {
      log.error('backup found pages failing their checksum', { label, errors: manifest.checksumErrors.slice(0, 20) });
    }
    log.info('backup complete', { label, type, storedSize: manifest.storedSize, databaseSize: manifest.databaseSize, ms });
    return manifest;
  } catch (e) {
    log.error('backup failed', { label, error: errorMessage(e) });
    throw e;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * A label no backup in the repository has: labels count seconds, so a backup started in the same second as an earlier
 * one (a leftover of an interrupted backup, too) waits for the next second rather than write into its directory.
 */
async function freeLabel(req: BackupRequest, type: BackupType, fullLabel: string | undefined, now: () => Date): Promise<{ startTime: Date; label: string }> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const startTime = now();
    const label = newLabel(type, startTime, fullLabel);
    if ((await req.repo.storage.list(backupDir(label))).length === 0) return { startTime, label };
    await sleep(1000 - startTime.getUTCMilliseconds());
  }
  throw new PgpilotError('Backup', `every backup label tried is taken in repository ${req.repo.name}`, { hint: 'is the clock of this host standing still? check it, then run the backup again' });
}

async function chooseReference(req: BackupRequest, log: Logger): Promise<{ type: BackupType; ref: Reference | undefined }> {
  if (req.type === 'full') return { type: 'full', ref: undefined };
  const backups = (await completeBackups(req.repo.storage)).filter((b) => b.systemId === req.repo.info.systemId);
  const pick = req.type === 'diff' ? backups.filter((b) => b.type === 'full').at(-1) : backups.at(-1);
  if (pick === undefined) {
    log.warn(`no full backup to base a ${req.type} backup on: taking a full backup`);
    return { type: 'full', ref: undefined };
  }
  return { type: req.type, ref: { manifest: pick, files: new Map(pick.files.map((f) => [f.path, f])) } };
}

/**
 * What the WAL says changed since the reference backup started, so that only those pages are read. Undefined (every
 * changed file is then read whole, pages kept by their LSN) when the WAL in between cannot be read, or the reference
 * lies on a timeline this one did not come from.
 */
async function changesSince(req: BackupRequest, ref: BackupManifest, timeline: number, startLsn: Lsn, log: Logger): Promise<WalChanges | undefined> {
  const t0 = Date.now();
  try {
    const scan = { jobs: req.jobs, ...(req.summaryDir === undefined ? {} : { summaryDir: req.summaryDir }) };
    const { changes, segments, summarized } = await walChangesBetween(req.repo, req.dataDir, { tli: ref.timeline, lsn: parseLsn(ref.startLsn) }, { tli: timeline, lsn: startLsn }, scan);
    log.info('changed blocks read from the WAL', { reference: ref.label, records: changes.records, relations: changes.blocks.size, segments, summarized, ms: Date.now() - t0 });
    return changes;
  } catch (e) {
    log.warn('cannot read the WAL since the reference backup: changed pages are found by reading the files', { reference: ref.label, error: errorMessage(e) });
    return undefined;
  }
}

/** The labels a diff or incr depends on: the full, then (incr) the reference's own chain. */
function chainTo(ref: BackupManifest, type: BackupType): string[] {
  return type === 'diff' ? [ref.chain[0] ?? ref.label] : ref.chain;
}

async function clusterIdentity(client: PgClient): Promise<{ systemId: string; pgVersion: number; checksums: boolean }> {
  const systemId = await scalar(client, 'SELECT system_identifier::text FROM pg_control_system()');
  const pgVersion = Number(await scalar(client, 'SHOW server_version_num'));
  const checksums = (await scalar(client, 'SHOW data_checksums')) === 'on';
  return { systemId, pgVersion, checksums };
}

async function scalar(client: PgClient, sql: string, params: unknown[] = []): Promise<string> {
  const r = await client.query<Record<string, string>>(sql, params);
  const first = r.rows[0];
  const value = first === undefined ? undefined : Object.values(first)[0];
  if (value === undefined || value === null) throw new PgpilotError('Postgres', `${sql} returned nothing`);
  return String(value);
}

interface Copied {
  files: FileEntry[];
  storedSize: number;
  readSize: number;
  checksumErrors: ChecksumError[];
}

/** The control file, copied after every other file when the backup reads a replica. */
const PG_CONTROL = 'global/pg_control';

interface CopyContext {
  dir: string;
  label: string;
  ref: Reference | undefined;
  startLsn: Lsn;
  checksums: boolean;
}

/** Copy workers; a later phase's take new numbers, as each names its own bundles. */
function copyPool(req: BackupRequest, c: CopyContext, firstWorker: number, jobs: number): WorkerPool<CopyTask[], (CopyResult | undefined)[]> {
  return new WorkerPool({
    script: new URL('./copy-worker.js', import.meta.url),
    workerData: (worker: number): CopyWorkerData => ({
      worker: firstWorker + worker,
      storageSpec: req.repo.storageSpec,
      codec: req.repo.codec,
      ext: repoExtension(req.repo),
      dir: c.dir,
      refStartLsn: c.ref?.manifest.startLsn,
      refStartMs: c.ref === undefined ? undefined : Date.parse(c.ref.manifest.startTime),
      backupStartLsn: formatLsn(c.startLsn),
      checksums: c.checksums,
    }),
    jobs,
  });
}

/** Copies the files phase after phase (each phase's files in parallel, costliest first); the first phase on `first`. */
async function copyFiles(
  req: BackupRequest,
  c: CopyContext & { changes: WalChanges | undefined },
  phases: readonly (readonly DataFile[])[],
  first: WorkerPool<CopyTask[], (CopyResult | undefined)[]>,
): Promise<Copied> {
  const out: Copied = { files: [], storedSize: 0, readSize: 0, checksumErrors: [] };
  for (const [i, files] of phases.entries()) {
    const tasks = copyTasks(c, files);
    const pool = i === 0 ? first : copyPool(req, c, i * req.jobs, Math.min(req.jobs, tasks.length || 1));
    const finals = await pool.run(batches(tasks), (results) => {
      for (const r of results) {
        if (r === undefined) continue;
        out.files.push(r.entry);
        out.readSize += r.readBytes;
        out.checksumErrors.push(...r.checksumErrors);
        const s = r.entry.store;
        if (s.kind === 'file' || (s.kind === 'delta' && s.offset === undefined)) out.storedSize += s.storedSize;
      }
    });
    out.storedSize += finals.reduce<number>((n, f) => n + (typeof f === 'number' ? f : 0), 0);
  }
  return out;
}

/** The files as copy tasks (with their reference entry and changed blocks), costliest first. */
function copyTasks(c: CopyContext & { changes: WalChanges | undefined }, files: readonly DataFile[]): CopyTask[] {
  const refLabel = c.ref?.manifest.label;
  return files
    .map((f): CopyTask & { cost: number } => {
      const entry = c.ref?.files.get(f.rel);
      if (entry === undefined || refLabel === undefined) return { ...f, cost: f.size };
      const blocks = c.changes === undefined || f.kind !== 'relation' ? undefined : changedBlocksOfFile(c.changes, f.rel, f.size);
      const task = { ...f, ref: { entry, label: refLabel }, ...(blocks === undefined ? {} : { blocks }) };
      // Small files are read whole, whatever changed.
      return { ...task, cost: blocks === undefined || f.size <= SMALL_FILE ? f.size : blockCopyCost(blocks, f.size, entry.size) };
    })
    .sort((x, y) => y.cost - x.cost)
    .map(({ cost: _, ...task }) => task);
}

/**
 * What copying a file by its changed blocks costs, in bytes of a file read whole: a scattered read costs about as much
 * as 16 KiB read in a stream, a page kept (checked, hashed, compressed) 8 KiB, and a byte read through a quarter
 * (measured on a pgbench database of scale 200, where this ordering lets both workers end together).
 */
function blockCopyCost(blocks: readonly number[], size: number, refSize: number): number {
  const reads = blockReads(blocks, size, refSize);
  const pages = reads.reduce((n, r) => n + r.blocks.length, 0);
  const bytes = reads.reduce((n, r) => n + r.count * 8192, 0);
  return reads.length * 16384 + pages * 8192 + bytes / 4;
}

/** Small files handed to a worker at once: one message for many files (a database has thousands). */
const SMALL_BATCH = 64;

/** The tasks (largest first) as the pool's units: a large file alone, small ones in batches. */
function batches(tasks: readonly CopyTask[]): CopyTask[][] {
  const out: CopyTask[][] = [];
  for (const t of tasks) {
    const last = out.at(-1);
    if (t.size <= SMALL_FILE && last !== undefined && last.length < SMALL_BATCH && (last[0]?.size ?? Infinity) <= SMALL_FILE) last.push(t);
    else out.push([t]);
  }
  return out;
}

/** Waits until the backup's last WAL segment is in the repository: without it the backup cannot be restored. */
async function waitForWal(req: BackupRequest, stopWal: string): Promise<void> {
  const timeoutMs = req.archiveTimeoutMs ?? 120_000;
  try {
    await waitFor(`WAL segment ${stopWal} in repository ${req.repo.name}`, async () => (await findStored(req.repo, stopWal)).length > 0, {
      timeoutMs,
      intervalMs: 50,
    });
  } catch (e) {
    throw new PgpilotError('Archive', `the backup's last WAL segment ${stopWal} did not reach repository ${req.repo.name} within ${timeoutMs / 1000} s`, {
      hint: 'check pgpilot archive-status and the agent log for archive failures',
      cause: e,
    });
  }
}
