// The WAL archiver loop: watches pg_wal/archive_status for .ready files, pushes them to every repository (and
// summarizes each segment for incremental backups), writes done markers.
import type { ArchiveStatus, RepoArchiveStatus } from '../model/archive-status.js';
import { randomBytes } from 'node:crypto';
import fs, { type FSWatcher } from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { PgpilotError, errorMessage } from '../base/errors.js';
import type { Logger } from '../base/log.js';
import { parseWalFileName } from '../model/wal.js';
import { doneDir } from './archive-command.js';
import type { Repo } from './repo.js';
import { pushWal } from './wal-archive.js';
import { pruneSummaries, summarizeFile } from './wal-summary.js';

export const STATUS_FILE = 'archive-status.json';
const POLL_MS = 250;
const RETRY_FIRST_MS = 1_000;
const RETRY_MAX_MS = 30_000;
const READY = '.ready';
/** Old summaries are pruned after this many new ones. */
const PRUNE_EVERY = 64;

/** One repository the archiver pushes to, opened on first use (and again after a failed open). */
export interface ArchiveTarget {
  name: string;
  open(): Promise<Repo>;
}


export interface ArchiverOptions {
  /** PostgreSQL's pg_wal directory; it may not exist yet (before initdb or clone) or be replaced (reclone). */
  walDir: string;
  spoolDir: string;
  /** How many files are pushed at once (each to every repository in parallel). */
  jobs: number;
  targets: ArchiveTarget[];
  logger: Logger;
  /** Where segment summaries go (wal-summary.ts): written as each segment is pushed. */
  summaryDir?: string;
  /** Timestamps for the status file. */
  now?: () => Date;
}

type ArchiverState = 'idle' | 'running' | 'stopping' | 'stopped';

/** Reads a member's archive status; undefined when the archiver never wrote one. */
export async function readArchiveStatus(spoolDir: string): Promise<ArchiveStatus | undefined> {
  try {
    return JSON.parse(await fsp.readFile(path.join(spoolDir, STATUS_FILE), 'utf8')) as ArchiveStatus;
  } catch {
    return undefined;
  }
}

/** The order PostgreSQL archives in: timeline history files first, then by name (timeline, then position). */
function archiveOrder(a: string, b: string): number {
  const ha = a.endsWith('.history') ? 0 : 1;
  const hb = b.endsWith('.history') ? 0 : 1;
  if (ha !== hb) return ha - hb;
  return a < b ? -1 : a > b ? 1 : 0;
}

async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await fsp.readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

/**
 * Pushes every `.ready` WAL file to all repositories (`jobs` files at a time), then writes the empty marker
 * `<spoolDir>/done/<name>` that archive_command waits for. A failed push is retried with backoff and leaves no marker,
 * so PostgreSQL keeps the file and retries too. Markers go once PostgreSQL has renamed the .ready file.
 */
export class WalArchiver {
  private state: ArchiverState = 'idle';
  private readonly statusDir: string;
  private readonly markerDir: string;
  private readonly now: () => Date;
  private readonly log: Logger;
  private status: ArchiveStatus;
  private readonly inFlight = new Map<string, Promise<void>>();
  /** Files with a done marker, until PostgreSQL renames their .ready file. */
  private readonly archived = new Set<string>();
  /** Files whose last push failed: attempts so far, and whether the backoff before the next one still runs. */
  private readonly retries = new Map<string, { attempts: number; waiting: boolean; timer: NodeJS.Timeout | undefined }>();
  private queue: string[] = [];
  private watcher: { watcher: FSWatcher; ino: number } | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private scanning: Promise<void> | undefined;
  private rescan = false;
  private statusWrite: Promise<void> = Promise.resolve();
  private readonly opened = new Map<string, Promise<Repo>>();
  private summaries = 0;
  private summarizing: Promise<void> = Promise.resolve();

  constructor(private readonly options: ArchiverOptions) {
    this.statusDir = path.join(options.walDir, 'archive_status');
    this.markerDir = doneDir(options.spoolDir);
    this.now = options.now ?? (() => new Date());
    this.log = options.logger;
    this.status = emptyStatus(options.targets);
  }

  /** Prepares the spool directory and starts watching. Markers of an earlier run are dropped: their files are pushed again (cheap when stored). */
  async start(): Promise<void> {
    if (this.state !== 'idle') throw new Error(`WAL archiver cannot start: it is ${this.state}`);
    // PostgreSQL (maybe another OS user than this process) tests for the markers: the directories must be searchable.
    await fsp.mkdir(this.markerDir, { recursive: true, mode: 0o755 });
    await fsp.chmod(this.options.spoolDir, 0o755);
    await fsp.chmod(this.markerDir, 0o755);
    for (const name of await readdirOrEmpty(this.markerDir)) await fsp.rm(path.join(this.markerDir, name), { force: true });
    this.status = carryOver(await readArchiveStatus(this.options.spoolDir), this.options.targets);
    this.state = 'running';
    this.saveStatusSoon();
    this.log.info('WAL archiver watching', { dir: this.statusDir, repos: this.options.targets.map((t) => t.name), jobs: this.options.jobs });
    this.tick();
  }

  /** Stops watching, lets the pushes under way finish, and writes the final status. */
  async stop(): Promise<void> {
    if (this.state !== 'running') return;
    this.state = 'stopping';
    clearTimeout(this.pollTimer);
    this.watcher?.watcher.close();
    this.watcher = undefined;
    for (const r of this.retries.values()) clearTimeout(r.timer);
    await this.scanning;
    await Promise.all(this.inFlight.values());
    await this.summarizing;
    this.state = 'stopped';
    this.saveStatusSoon();
    await this.statusWrite;
    this.log.info('WAL archiver stopped', { pending: this.status.pending });
  }

  /** The periodic scan: a safety net for missed watch events, and where the watcher is (re-)armed. */
  private tick(): void {
    if (this.state !== 'running') return;
    this.scan();
    this.pollTimer = setTimeout(() => this.tick(), POLL_MS);
  }

  /** Runs one scan, or asks the running one to go again. */
  private scan(): void {
    if (this.state !== 'running') return;
    if (this.scanning !== undefined) {
      this.rescan = true;
      return;
    }
    this.scanning = (async () => {
      do {
        this.rescan = false;
        try {
          await this.scanOnce();
        } catch (e) {
          this.log.warn('WAL archiver scan failed', { error: errorMessage(e) });
        }
      } while (this.rescan && this.state === 'running');
    })().finally(() => {
      this.scanning = undefined;
    });
  }

  private async scanOnce(): Promise<void> {
    await this.armWatcher();
    const ready = new Set((await readdirOrEmpty(this.statusDir)).filter((f) => f.endsWith(READY)).map((f) => f.slice(0, -READY.length)));
    // PostgreSQL renamed the .ready file (archived) or it is gone (data directory replaced): the marker has served.
    for (const name of await readdirOrEmpty(this.markerDir)) {
      if (!ready.has(name)) await fsp.rm(path.join(this.markerDir, name), { force: true });
    }
    for (const name of this.archived) if (!ready.has(name)) this.archived.delete(name);
    for (const name of this.retries.keys()) if (!ready.has(name)) this.forgetRetry(name);
    const todo = [...ready].filter((name) => !this.archived.has(name) && parseWalFileName(name) !== undefined);
    this.queue = todo.filter((name) => !this.inFlight.has(name) && this.retries.get(name)?.waiting !== true).sort(archiveOrder);
    this.setPending(todo.length);
    this.startPushes();
  }

  /** Watches archive_status when it exists, again after the data directory was replaced; the poll covers the gaps. */
  private async armWatcher(): Promise<void> {
    const ino = await fsp.stat(this.statusDir).then((s) => s.ino, () => undefined);
    if (this.watcher !== undefined && this.watcher.ino === ino) return;
    this.watcher?.watcher.close();
    this.watcher = undefined;
    if (ino === undefined || this.state !== 'running') return;
    try {
      const watcher = fs.watch(this.statusDir, () => this.scan());
      watcher.on('error', () => {
        watcher.close();
        if (this.watcher?.watcher === watcher) this.watcher = undefined;
      });
      this.watcher = { watcher, ino };
    } catch (e) {
      this.log.debug('cannot watch archive_status, polling only', { error: errorMessage(e) });
    }
  }

  private startPushes(): void {
    while (this.state === 'running' && this.inFlight.size < this.options.jobs) {
      const name = this.queue.shift();
      if (name === undefined) return;
      if (this.inFlight.has(name)) continue;
      const push = this.pushEverywhere(name).catch((e: unknown) => {
        this.log.error('WAL archiver failed', { wal: name, error: errorMessage(e) });
      }).finally(() => {
        this.inFlight.delete(name);
        this.startPushes();
      });
      this.inFlight.set(name, push);
    }
  }

  /** Pushes one file to every repository in parallel; the marker is written only when all of them hold it. */
  private async pushEverywhere(name: string): Promise<void> {
    const file = path.join(this.options.walDir, name);
    const errors = await Promise.all(this.options.targets.map(async (target) => {
      try {
        const outcome = await pushWal(await this.repo(target), file, name);
        if (outcome === 'exists') this.log.info('WAL file already archived', { wal: name, repo: target.name });
        this.recordRepo(target.name, name, undefined);
        return undefined;
      } catch (e) {
        const error = errorMessage(e);
        this.log.error('WAL push failed', { wal: name, repo: target.name, error, ...(e instanceof PgpilotError && e.hint !== undefined ? { hint: e.hint } : {}) });
        this.recordRepo(target.name, name, error);
        return error;
      }
    }));
    const error = errors.find((e) => e !== undefined);
    if (error === undefined) {
      await fsp.writeFile(path.join(this.markerDir, name), '', { mode: 0o644 });
      this.archived.add(name);
      this.forgetRetry(name);
      this.recordArchived(name);
      this.log.info('WAL file archived', { wal: name });
      // After the marker, one at a time: archiving does not wait for it. Should PostgreSQL recycle the file meanwhile,
      // the summary's hash does not match the archived content, and no backup uses it.
      this.summarizing = this.summarizing.then(() => this.summarize(file, name));
    } else {
      this.recordFailed(name, error);
      this.scheduleRetry(name);
    }
  }

  /** Writes the segment's summary; a failure is only logged (a backup then reads the segment itself). */
  private async summarize(file: string, name: string): Promise<void> {
    const dir = this.options.summaryDir;
    if (dir === undefined) return;
    try {
      await summarizeFile(dir, file, name);
      if (++this.summaries % PRUNE_EVERY === 0) await pruneSummaries(dir);
    } catch (e) {
      this.log.warn('WAL summary not written: backups read this segment instead', { wal: name, error: errorMessage(e) });
    }
  }

  private repo(target: ArchiveTarget): Promise<Repo> {
    let opened = this.opened.get(target.name);
    if (opened === undefined) {
      opened = target.open();
      this.opened.set(target.name, opened);
      opened.catch(() => this.opened.delete(target.name));
    }
    return opened;
  }

  private scheduleRetry(name: string): void {
    const previous = this.retries.get(name);
    const attempts = (previous?.attempts ?? 0) + 1;
    const delayMs = Math.min(RETRY_FIRST_MS * 2 ** (attempts - 1), RETRY_MAX_MS);
    const entry = { attempts, waiting: true, timer: undefined as NodeJS.Timeout | undefined };
    entry.timer = setTimeout(() => {
      entry.waiting = false;
      this.scan();
    }, delayMs);
    this.retries.set(name, entry);
  }

  private forgetRetry(name: string): void {
    clearTimeout(this.retries.get(name)?.timer);
    this.retries.delete(name);
  }

  private recordRepo(repo: string, name: string, error: string | undefined): void {
    const r = (this.status.repos[repo] ??= emptyRepoStatus());
    if (error === undefined) {
      r.lastArchived = name;
      r.lastArchivedAt = this.now().toISOString();
    } else {
      r.failures += 1;
      r.lastError = error;
    }
  }

  private recordArchived(name: string): void {
    this.status.lastArchived = name;
    this.status.lastArchivedAt = this.now().toISOString();
    this.status.pushedCount += 1;
    this.status.pending = Math.max(0, this.status.pending - 1);
    this.saveStatusSoon();
  }

  private recordFailed(name: string, error: string): void {
    this.status.lastFailed = name;
    this.status.lastFailedAt = this.now().toISOString();
    this.status.lastError = error;
    this.status.failures += 1;
    this.saveStatusSoon();
  }

  private setPending(pending: number): void {
    if (this.status.pending === pending) return;
    this.status.pending = pending;
    this.saveStatusSoon();
  }

  /** Queues a status write behind the previous one; writes never interleave. */
  private saveStatusSoon(): void {
    this.statusWrite = this.statusWrite.then(() => this.saveStatus());
  }

  /** Writes the status file atomically (temp file, rename); a failure is logged, the next change writes again. */
  private async saveStatus(): Promise<void> {
    const file = path.join(this.options.spoolDir, STATUS_FILE);
    const temp = `${file}.tmp-${randomBytes(4).toString('hex')}`;
    try {
      await fsp.writeFile(temp, `${JSON.stringify(this.status, null, 2)}\n`, { mode: 0o644 });
      await fsp.rename(temp, file);
    } catch (e) {
      await fsp.rm(temp, { force: true });
      this.log.warn('cannot write the archive status', { file, error: errorMessage(e) });
    }
  }
}

function emptyRepoStatus(): RepoArchiveStatus {
  return { lastArchived: null, lastArchivedAt: null, failures: 0, lastError: null };
}

function emptyStatus(targets: ArchiveTarget[]): ArchiveStatus {
  return {
    lastArchived: null, lastArchivedAt: null, lastFailed: null, lastFailedAt: null, lastError: null,
    failures: 0, pushedCount: 0, pending: 0,
    repos: Object.fromEntries(targets.map((t) => [t.name, emptyRepoStatus()])),
  };
}

/** The previous run's counters and last outcomes, for the repositories still configured. */
function carryOver(previous: ArchiveStatus | undefined, targets: ArchiveTarget[]): ArchiveStatus {
  const fresh = emptyStatus(targets);
  if (previous === undefined) return fresh;
  const repos = Object.fromEntries(targets.map((t) => [t.name, { ...emptyRepoStatus(), ...previous.repos[t.name] }]));
  return { ...fresh, ...previous, pending: 0, repos };
}
