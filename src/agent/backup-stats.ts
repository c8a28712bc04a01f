// Backup statistics for /metrics: fed by finished backup jobs (in memory), plus the WAL archiver's status file.
import fsp from 'node:fs/promises';
import path from 'node:path';
import { STATUS_FILE } from '../backup/archiver.js';
import { backupTypes, isBackupType, type ArchiveStatus, type BackupMetrics, type BackupType, type BackupTypeStats, type JobInfo, type RepoArchiveStatus } from '../api/jobs.js';
import type { AgentConfig } from '../config/types.js';

/** What a backup job's result says (other fields are ignored here). */
interface BackupResult {
  repo?: unknown;
  type?: unknown;
  startTime?: unknown;
  stopTime?: unknown;
  storedSize?: unknown;
  databaseSize?: unknown;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const time = (v: unknown): number | undefined => (typeof v === 'string' && !Number.isNaN(Date.parse(v)) ? Date.parse(v) : undefined);

export class BackupStats {
  private readonly stats: BackupTypeStats[] = [];

  constructor(private readonly backup: AgentConfig['backup']) {
    for (const repo of backup.repos) for (const type of backupTypes) this.entry(repo.name, type);
  }

  /** Takes in a finished job; only backups count. A failure without a repository option counts for the first one (the job's default). */
  record(job: Readonly<JobInfo>): void {
    if (job.kind !== 'backup' || job.state === 'running') return;
    const finishedAt = time(job.finishedAt) ?? Date.now();
    const requested = { repo: job.options.repo ?? this.backup.repos[0]?.name, type: job.options.type };
    if (job.state === 'failed') {
      if (requested.repo === undefined || requested.type === undefined) return;
      const e = this.entry(requested.repo, requested.type);
      e.failures += 1;
      e.lastFailureAt = finishedAt;
      return;
    }
    const r = (typeof job.result === 'object' && job.result !== null ? job.result : {}) as BackupResult;
    // A diff or incr without a full to refer to is taken as a full: the result's type is what was taken.
    const repo = typeof r.repo === 'string' ? r.repo : requested.repo;
    const type = isBackupType(r.type) ? r.type : requested.type;
    if (repo === undefined || type === undefined) return;
    const e = this.entry(repo, type);
    const [start, stop] = [time(r.startTime) ?? time(job.startedAt), time(r.stopTime) ?? finishedAt];
    e.lastSuccessAt = stop;
    e.lastDurationSeconds = start === undefined ? undefined : (stop - start) / 1000;
    e.lastStoredBytes = num(r.storedSize);
    e.lastDatabaseBytes = num(r.databaseSize);
  }

  /** The statistics and the archive status, for /metrics. */
  async metrics(): Promise<BackupMetrics> {
    return { backups: this.stats.map((s) => ({ ...s })), archive: await this.archiveStatus() };
  }

  archiveStatus(): Promise<ArchiveStatus | undefined> {
    return readArchiveStatus(this.backup.spoolDir);
  }

  private entry(repo: string, type: BackupType): BackupTypeStats {
    let e = this.stats.find((s) => s.repo === repo && s.type === type);
    if (e === undefined) {
      e = { repo, type, lastSuccessAt: undefined, lastDurationSeconds: undefined, lastStoredBytes: undefined, lastDatabaseBytes: undefined, failures: 0, lastFailureAt: undefined };
      this.stats.push(e);
    }
    return e;
  }
}

/** `<spoolDir>/archive-status.json`; undefined when missing or unreadable (no archiver, or not started yet). */
export async function readArchiveStatus(spoolDir: string): Promise<ArchiveStatus | undefined> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await fsp.readFile(path.join(spoolDir, STATUS_FILE), 'utf8'));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const raw = parsed as Record<string, unknown>;
  const repos = typeof raw['repos'] === 'object' && raw['repos'] !== null ? (raw['repos'] as Record<string, unknown>) : {};
  return {
    lastArchived: str(raw['lastArchived']),
    lastArchivedAt: str(raw['lastArchivedAt']),
    lastFailed: str(raw['lastFailed']),
    lastFailedAt: str(raw['lastFailedAt']),
    lastError: str(raw['lastError']),
    failures: num(raw['failures']) ?? 0,
    pushedCount: num(raw['pushedCount']) ?? 0,
    pending: num(raw['pending']) ?? 0,
    repos: Object.fromEntries(Object.entries(repos).map(([name, r]) => [name, repoStatus(r)])),
  };
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

function repoStatus(value: unknown): RepoArchiveStatus {
  const r = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  return { lastArchived: str(r['lastArchived']), lastArchivedAt: str(r['lastArchivedAt']), failures: num(r['failures']) ?? 0, lastError: str(r['lastError']) };
}
