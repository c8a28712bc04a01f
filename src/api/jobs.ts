// Backup jobs, backup statistics and the WAL archive status as the API sees them: plain data, and POST /jobs checks.
import { HttpError } from './replies.js';

export const jobKinds = ['backup', 'verify', 'expire', 'list', 'dump', 'dumps', 'dump-restore'] as const;
export type JobKind = (typeof jobKinds)[number];

/**
 * Kinds that write to a repository or load PostgreSQL: one at a time per member, and only on the leader (a backup with
 * options.standby runs on the replica the leader's backup job chose).
 */
export const mutatingJobKinds: ReadonlySet<JobKind> = new Set<JobKind>(['backup', 'verify', 'expire', 'dump', 'dump-restore']);

export const backupTypes = ['full', 'diff', 'incr'] as const;
export type BackupType = (typeof backupTypes)[number];
export const isBackupType = (v: unknown): v is BackupType => (backupTypes as readonly unknown[]).includes(v);

/** The `--options` JSON of `pgpilot job KIND`; which keys a kind takes is in `optionKeys`. */
export interface JobOptions {
  type?: BackupType;
  repo?: string;
  set?: string;
  databases?: string[];
  /** dump-restore: the dump, the database in it, the database to restore into, and whether to drop objects first. */
  label?: string;
  database?: string;
  target?: string;
  clean?: boolean;
  /** backup: run on this replica, for the leader (spec.backup.fromStandby); the leader's backup job sends it. */
  standby?: boolean;
}

export type JobOrigin = 'api' | 'schedule';
export type JobState = 'running' | 'succeeded' | 'failed';

/** A failed job's error, as the job command reports it (a catalog code, message and hint). */
export interface JobError {
  code: string;
  message: string;
  hint?: string;
}

export interface JobInfo {
  id: string;
  kind: JobKind;
  options: JobOptions;
  origin: JobOrigin;
  state: JobState;
  /** ISO 8601 times. */
  startedAt: string;
  finishedAt?: string;
  /** The job command's result (succeeded jobs). */
  result?: unknown;
  error?: JobError;
}

/** One backup in a repository, as the `list` job reports it (times ISO 8601, LSNs as text, sizes in bytes). */
export interface BackupEntry {
  label: string;
  type: BackupType;
  status: 'complete' | 'incomplete';
  startTime: string | null;
  stopTime: string | null;
  startLsn: string | null;
  stopLsn: string | null;
  timeline: number | null;
  databaseSize: number | null;
  storedSize: number | null;
  /** The backup a diff or incr refers to. */
  reference: string | null;
  checksumErrors: number;
  encrypted: boolean | null;
  compress: string | null;
  /** The member whose data directory was read (a replica with spec.backup.fromStandby). */
  member: string | null;
}

/** GET /backups: the `list` job's result; a repository that could not be read has an error instead of backups. */
export interface BackupListing {
  repos: Array<{ name: string; location?: string; backups?: BackupEntry[]; window?: RecoveryWindowDocument | null; error?: string }>;
}

/** The points a restore can reach in one repository (see backup/recovery-window.ts). */
export interface RecoveryWindowDocument {
  earliest: { backup: string; lsn: string; time: string; timeline: number };
  latest: { lsn: string; timeline: number } | { error: string };
  timelines: { timeline: number; fromLsn: string; toLsn: string }[];
}

/** The WAL archiver's `archive-status.json` (the type lives in model/, shared with the archiver). */
export type { ArchiveStatus, RepoArchiveStatus } from '../model/archive-status.js';
import type { ArchiveStatus } from '../model/archive-status.js';

/** GET /archive: the archive status and the seconds since the last segment was archived (null: none yet). */
export type ArchiveDocument = ArchiveStatus & { lagSeconds: number | null };

/** What this member knows of its backups of one repository and type (since the agent started). */
export interface BackupTypeStats {
  repo: string;
  type: BackupType;
  /** Epoch ms of the last successful backup's end. */
  lastSuccessAt: number | undefined;
  lastDurationSeconds: number | undefined;
  lastStoredBytes: number | undefined;
  lastDatabaseBytes: number | undefined;
  failures: number;
  /** Epoch ms. */
  lastFailureAt: number | undefined;
}

/** What /metrics shows of backups and the WAL archive. */
export interface BackupMetrics {
  /** One entry per configured repository and backup type. */
  backups: BackupTypeStats[];
  archive: ArchiveStatus | undefined;
}

/** The status an archiver that never wrote one would have. */
export function emptyArchiveStatus(): ArchiveStatus {
  return {
    lastArchived: null, lastArchivedAt: null, lastFailed: null, lastFailedAt: null, lastError: null,
    failures: 0, pushedCount: 0, pending: 0, repos: {},
  };
}

export function archiveDocument(status: ArchiveStatus | undefined, now: number): ArchiveDocument {
  const s = status ?? emptyArchiveStatus();
  const at = s.lastArchivedAt === null ? NaN : Date.parse(s.lastArchivedAt);
  return { ...s, lagSeconds: Number.isNaN(at) ? null : Math.max(0, (now - at) / 1000) };
}

const optionKeys: Record<JobKind, ReadonlyArray<keyof JobOptions>> = {
  backup: ['type', 'repo', 'standby'],
  verify: ['repo', 'set'],
  expire: ['repo'],
  list: ['repo'],
  dump: ['databases'],
  dumps: [],
  'dump-restore': ['label', 'database', 'target', 'clean'],
};

const isKind = (v: unknown): v is JobKind => typeof v === 'string' && (jobKinds as readonly string[]).includes(v);

/** The body of POST /jobs, `{kind, options}`; anything else is a 400 that says what is wrong. */
export function parseJobRequest(body: Record<string, unknown>): { kind: JobKind; options: JobOptions } {
  const kind = body['kind'];
  if (!isKind(kind)) throw new HttpError(400, `"kind" must be one of ${jobKinds.join(', ')}`);
  const raw = body['options'] ?? {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new HttpError(400, '"options" must be a JSON object');
  const allowed = optionKeys[kind];
  const options: JobOptions = {};
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    if (!(allowed as readonly string[]).includes(key)) {
      throw new HttpError(400, `a ${kind} job takes no option "${key}"${allowed.length === 0 ? '' : ` (it takes ${allowed.join(', ')})`}`);
    }
    setOption(options, key as keyof JobOptions, value);
  }
  if (kind === 'dump-restore' && (options.label === undefined || options.database === undefined)) {
    throw new HttpError(400, 'a dump-restore job needs options.label and options.database');
  }
  if (kind === 'backup' && options.type === undefined) throw new HttpError(400, `a backup job needs options.type: ${backupTypes.join(', ')}`);
  return { kind, options };
}

function setOption(options: JobOptions, key: keyof JobOptions, value: unknown): void {
  const bad = (what: string): never => {
    throw new HttpError(400, `options.${key} must be ${what}`);
  };
  switch (key) {
    case 'type':
      options.type = isBackupType(value) ? value : bad(`one of ${backupTypes.join(', ')}`);
      return;
    case 'databases':
      options.databases = Array.isArray(value) && value.every((d) => typeof d === 'string' && d !== '') ? (value as string[]) : bad('an array of database names');
      return;
    case 'clean':
    case 'standby':
      options[key] = typeof value === 'boolean' ? value : bad('true or false');
      return;
    case 'repo':
    case 'set':
    case 'label':
    case 'database':
    case 'target':
      options[key] = typeof value === 'string' && value !== '' ? value : bad('a non-empty string');
  }
}
