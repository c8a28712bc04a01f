// The restore recipe: reassemble a backup (full plus its diff/incr chain) into a data directory PostgreSQL starts from.
import { createHash } from 'node:crypto';
import { type Dirent, createReadStream } from 'node:fs';
import { mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PgpilotError } from '../base/errors.js';
import type { Logger } from '../base/log.js';
import { parseLsn } from '../model/lsn.js';
import { historyFileName, segmentsBetween } from '../model/wal.js';
import { type RunAs, chownR } from '../pg/os-user.js';
import { type BackupManifest, readManifest } from './backup-manifest.js';
import { completeBackups } from './catalog.js';
import { emptyDirsToRecreate } from './relation-files.js';
import { type FilePlan, planRestore } from './restore-plan.js';
import type { RestoreResult, RestoreTask, RestoreWorkerData } from './restore-worker.js';
import type { Repo } from './repo.js';
import { getWal } from './wal-archive.js';
import { WorkerPool } from './worker-pool.js';
import { collectGarbage } from '../base/gc.js';

export interface RestoreToDirRequest {
  repo: Repo;
  /** The backup to restore; default the newest complete one. */
  label?: string;
  dir: string;
  jobs: number;
  log: Logger;
  /** When running as root: the OS user the restored directory is given to. */
  owner?: RunAs;
  /**
   * Delta restore into an existing (stopped) data directory: files whose content already matches the backup are left
   * alone, the others rewritten, files the backup does not have removed. Without it `dir` must be absent or empty.
   */
  delta?: boolean;
}

export interface RestoreSummary {
  manifest: BackupManifest;
  files: number;
  /** Delta restores: files rewritten, and files removed because the backup does not have them. */
  written: number;
  removed: number;
  bytes: number;
  walSegments: number;
}

/** Finds the backup and its chain; an unknown label names the ones that exist. */
export async function loadChain(repo: Repo, label: string | undefined): Promise<{ target: BackupManifest; manifests: Map<string, BackupManifest> }> {
  const all = await completeBackups(repo.storage);
  const target = label === undefined ? all.at(-1) : all.find((b) => b.label === label);
  if (target === undefined) {
    const known = all.map((b) => b.label).join(', ') || 'none';
    throw new PgpilotError('NotFound', label === undefined ? `repository ${repo.name} holds no complete backup` : `backup ${label} is not a complete backup in repository ${repo.name}`, {
      hint: `complete backups: ${known} (see pgpilot backups)`,
    });
  }
  const manifests = new Map<string, BackupManifest>();
  for (const l of target.chain) {
    const m = l === target.label ? target : await readManifest(repo.storage, l);
    if (m === undefined) throw new PgpilotError('Repo', `backup ${target.label} needs ${l}, which is missing from repository ${repo.name}`);
    manifests.set(l, m);
  }
  return { target, manifests };
}

/** Restores into `dir`, which must be absent or empty (or, with `delta`, a stopped data directory). */
export async function restoreToDir(req: RestoreToDirRequest): Promise<RestoreSummary> {
  // The workers start while the manifests are read and the files planned.
  const workerData: RestoreWorkerData = { storageSpec: req.repo.storageSpec, key: req.repo.key, dir: req.dir };
  const pool = new WorkerPool<RestoreTask, RestoreResult>({ script: new URL('./restore-worker.js', import.meta.url), workerData: () => workerData, jobs: req.jobs });
  try {
    return await restoreWith(req, pool);
  } finally {
    await pool.stop();
  }
}

async function restoreWith(req: RestoreToDirRequest, pool: WorkerPool<RestoreTask, RestoreResult>): Promise<RestoreSummary> {
  const { target, manifests } = await loadChain(req.repo, req.label);
  if (req.delta === true) await ensureStopped(req.dir);
  else await ensureEmptyDir(req.dir);
  const log = req.log.child({ repo: req.repo.name, label: target.label });
  log.info('restore starting', { dir: req.dir, chain: target.chain });
  try {
    // Directories first, with the ones PostgreSQL needs even though their contents were not backed up.
    const dirs = [...target.dirs, ...emptyDirsToRecreate];
    for (const d of dirs) await mkdir(path.join(req.dir, d), { recursive: true, mode: 0o700 });
    const all = planRestore(target, manifests);
    const { plans, removed } = req.delta === true ? await deltaPlans(req.dir, all, dirs) : { plans: all, removed: 0 };
    // The garbage of reading the manifests goes before the workers take their share of memory.
    collectGarbage();
    const bytes = await writeFiles(req, plans, pool);
    // The backup label makes PostgreSQL replay from the backup's checkpoint; the WAL to consistency goes in pg_wal.
    await writeFile(path.join(req.dir, 'backup_label'), target.backupLabel, { mode: 0o600 });
    if (target.tablespaceMap !== '') await writeFile(path.join(req.dir, 'tablespace_map'), target.tablespaceMap, { mode: 0o600 });
    const walSegments = await fetchWal(req, target);
    await detachFromSource(req.dir);
    if (req.owner !== undefined) await chownR(req.dir, req.owner);
    log.info('restore complete', { files: all.length, written: plans.length, removed, bytes, walSegments });
    return { manifest: target, files: all.length, written: plans.length, removed, bytes, walSegments };
  } catch (e) {
    // A fresh directory goes; a delta restore's directory stays (it is the cluster's data: restore it again).
    if (req.delta !== true) await rm(req.dir, { recursive: true, force: true });
    throw e;
  }
}

async function ensureStopped(dir: string): Promise<void> {
  const pid = await readFile(path.join(dir, 'postmaster.pid'), 'utf8').then((t) => Number(t.split('\n')[0]), () => undefined);
  if (pid !== undefined && pid > 0 && processRunning(pid)) {
    throw new PgpilotError('State', `PostgreSQL (pid ${pid}) still runs on ${dir}: a delta restore needs it stopped`, { hint: 'stop the cluster first' });
  }
  await rm(path.join(dir, 'postmaster.pid'), { force: true });
}

function processRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * The files a delta restore must write: those missing, or whose size or SHA-256 differ. Files and directories the
 * backup does not have are removed (what a backup excludes is cleared too: recovery must read the archive, not WAL
 * from another history, and a replication slot directory without its state file stops PostgreSQL from starting).
 */
async function deltaPlans(dir: string, all: FilePlan[], dirs: readonly string[]): Promise<{ plans: FilePlan[]; removed: number }> {
  const wanted = new Map(all.map((p) => [p.path, p]));
  const plans: FilePlan[] = [];
  let removed = 0;
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const relative = (d: Dirent): string => path.relative(dir, path.join(d.parentPath, d.name)).split(path.sep).join('/');
  const present = new Set<string>();
  for (const d of entries.filter((e) => e.isFile() || e.isSymbolicLink())) {
    const rel = relative(d);
    const plan = wanted.get(rel);
    if (plan === undefined) {
      await rm(path.join(dir, rel), { force: true });
      removed += 1;
      continue;
    }
    present.add(rel);
    const st = await stat(path.join(dir, rel));
    if (plan.sha256 === undefined || st.size !== plan.size || (await fileSha256(path.join(dir, rel))) !== plan.sha256) plans.push(plan);
  }
  const keep = new Set(dirs);
  for (const p of all) for (let d = path.posix.dirname(p.path); d !== '.'; d = path.posix.dirname(d)) keep.add(d);
  // Deepest first, so a parent is looked at after its children are gone.
  const strayDirs = entries.filter((e) => e.isDirectory()).map(relative).filter((rel) => !keep.has(rel)).sort((a, b) => b.length - a.length);
  for (const rel of strayDirs) {
    await rm(path.join(dir, rel), { recursive: true, force: true });
    removed += 1;
  }
  for (const p of all) if (!present.has(p.path)) plans.push(p);
  return { plans, removed };
}

async function fileSha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The first line of the settings a restore appends to postgresql.auto.conf. */
export const RESTORE_MARK = '# Added by pgpilot restore';

/** postgresql.auto.conf text without what a restore appended (everything from its first line on). */
export function withoutRestoreSettings(text: string): string {
  const at = text.indexOf(RESTORE_MARK);
  return at < 0 ? text : text.slice(0, at);
}

/**
 * The copy must not act as the member it came from: it does not archive into the source's repository, does not
 * stream from the source's primary (a backup read from a replica carries its primary_conninfo), and it reads its own
 * pg_hba.conf (pgpilot.conf names the source member's). postgresql.auto.conf is read last, so these win.
 */
async function detachFromSource(dir: string): Promise<void> {
  const auto = path.join(dir, 'postgresql.auto.conf');
  const text = await readFile(auto, 'utf8').catch(() => '');
  const lines = [`${RESTORE_MARK}: this copy does not archive into the source cluster's repository.`, "archive_mode = 'off'", "primary_conninfo = ''", "primary_slot_name = ''", `hba_file = '${path.join(dir, 'pg_hba.conf').replace(/'/g, "''")}'`];
  await writeFile(auto, `${text}${text === '' || text.endsWith('\n') ? '' : '\n'}${lines.join('\n')}\n`, { mode: 0o600 });
}

async function ensureEmptyDir(dir: string): Promise<void> {
  const entries = await readdir(dir).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return [];
    throw e;
  });
  if (entries.length > 0) {
    throw new PgpilotError('State', `restore target ${dir} is not empty`, { hint: 'restore into a new or empty directory' });
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
}

/** Every file in one pass over the tasks: whole objects largest first, then bundles; a file with deltas is merged. */
async function writeFiles(req: RestoreToDirRequest, plans: FilePlan[], pool: WorkerPool<RestoreTask, RestoreResult>): Promise<number> {
  const bundles = new Map<string, Extract<RestoreTask, { kind: 'bundle' }>>();
  const tasks: Exclude<RestoreTask, { kind: 'bundle' }>[] = [];
  for (const p of plans) {
    const sha = p.sha256 === undefined ? {} : { sha256: p.sha256 };
    if (p.deltas.length > 0) {
      tasks.push({ kind: 'merge', path: p.path, mode: p.mode, size: p.size, base: p.base, deltas: p.deltas, ...sha });
    } else if (p.base === undefined) {
      await writeFile(path.join(req.dir, p.path), Buffer.alloc(0), { mode: p.mode });
    } else if (p.base.offset === undefined) {
      tasks.push({ kind: 'file', source: p.base, path: p.path, mode: p.mode, ...sha });
    } else {
      let b = bundles.get(p.base.object);
      if (b === undefined) {
        b = { kind: 'bundle', object: p.base.object, compress: p.base.compress, files: [] };
        bundles.set(p.base.object, b);
      }
      b.files.push({ path: p.path, mode: p.mode, offset: p.base.offset, storedSize: p.base.storedSize, ...sha });
    }
  }
  // Largest files first, bundles last: the workers end together instead of one finishing a 1 GiB file alone.
  const size = new Map(plans.map((p) => [p.path, p.size]));
  tasks.sort((a, b) => (size.get(b.path) ?? 0) - (size.get(a.path) ?? 0));
  const all: RestoreTask[] = [...tasks, ...bundles.values()];
  let bytes = 0;
  if (all.length > 0) await pool.run(all, (r) => void (bytes += r.bytes));
  return bytes;
}

/** Copies the WAL from the backup's start to its stop (and the timeline's history) into pg_wal. */
async function fetchWal(req: RestoreToDirRequest, m: BackupManifest): Promise<number> {
  const walDir = path.join(req.dir, 'pg_wal');
  const names = segmentsBetween(m.timeline, parseLsn(m.startLsn), parseLsn(m.stopLsn));
  for (const name of names) {
    if (!(await getWal(req.repo, name, path.join(walDir, name)))) {
      throw new PgpilotError('Archive', `WAL segment ${name}, needed to make backup ${m.label} consistent, is missing from repository ${req.repo.name}`, {
        hint: 'check pgpilot archive-status; pgpilot verify lists every backup whose WAL is incomplete',
      });
    }
  }
  if (m.timeline > 1) await getWal(req.repo, historyFileName(m.timeline), path.join(walDir, historyFileName(m.timeline)));
  return names.length;
}
