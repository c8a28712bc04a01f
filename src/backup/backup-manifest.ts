// The backup manifest: what one backup holds, file by file; written last (with a copy) and self-checksummed.
import { createHash } from 'node:crypto';
import { PgpilotError } from '../base/errors.js';
import type { Storage } from '../storage/storage.js';
import type { CompressType } from './codec/compress.js';

export type BackupType = 'full' | 'diff' | 'incr';
export const MANIFEST_FORMAT = 1;

/** Where a file's bytes are: stored whole, as pages over an earlier version, unchanged, or empty. */
export type FileStore =
  /** The whole file in its own object. */
  | { kind: 'file'; object: string; storedSize: number }
  /** The whole file as a slice of a bundle object (small files are packed together). */
  | { kind: 'bundle'; object: string; offset: number; storedSize: number }
  /** Changed pages over the version of the file in backup `base` (the reference backup). */
  | { kind: 'delta'; object: string; offset?: number; storedSize: number; base: string; pages: number; deltaSha256: string }
  /** Identical to the version in backup `base`. */
  | { kind: 'same'; base: string }
  | { kind: 'empty' };

export interface FileEntry {
  /** Relative to the data directory, `/`-separated. */
  path: string;
  size: number;
  mode: number;
  mtimeMs: number;
  /**
   * SHA-256 of the whole file as backed up (after applying pages, for a delta). Absent for a delta whose pages were
   * found from the WAL: the file was not read whole (the delta's own deltaSha256 still covers what was stored).
   */
  sha256?: string;
  store: FileStore;
}

export interface ChecksumError {
  path: string;
  block: number;
  expected: number;
  found: number;
}

export interface BackupManifest {
  format: number;
  label: string;
  type: BackupType;
  /** The backup this one depends on: the full (diff) or the previous backup (incr). */
  reference?: string;
  /** Labels from the full to this one: everything a restore reads. */
  chain: string[];
  systemId: string;
  pgVersion: number;
  timeline: number;
  startLsn: string;
  stopLsn: string;
  /** The oldest transaction still running when the backup started (64-bit): later commits are replayed from WAL. */
  startXmin?: string;
  startWal: string;
  stopWal: string;
  startTime: string;
  stopTime: string;
  /** The member the data was read from. */
  member: string;
  compress: { type: CompressType; level: number };
  encrypted: boolean;
  /** Sum of the file sizes: the database as backed up. */
  databaseSize: number;
  /** Bytes this backup added to the repository. */
  storedSize: number;
  /** Bytes read from the data directory. */
  readSize: number;
  checksumErrors: ChecksumError[];
  backupLabel: string;
  tablespaceMap: string;
  /** Directories of the data directory, so a restore recreates empty ones too. */
  dirs: string[];
  files: FileEntry[];
}

export const backupDir = (label: string): string => `backup/${label}/`;
export const manifestPath = (label: string): string => `backup/${label}/backup.manifest`;
const copyPath = (label: string): string => `backup/${label}/backup.manifest.copy`;

/** The manifest as stored: JSON with a trailing `sha256` of the body, so a damaged manifest is detected. */
export function serializeManifest(m: BackupManifest): Buffer {
  const body = JSON.stringify(m);
  const sum = createHash('sha256').update(body).digest('hex');
  return Buffer.from(`{"sha256":"${sum}","manifest":${body}}\n`);
}

export function parseManifest(buf: Buffer, where: string): BackupManifest {
  const text = buf.toString('utf8');
  const m = /^\{"sha256":"([0-9a-f]{64})","manifest":([\s\S]*)\}\n?$/.exec(text);
  if (m?.[1] === undefined || m[2] === undefined) throw new PgpilotError('Corrupt', `backup manifest ${where} is not a pgpilot manifest`);
  const sum = createHash('sha256').update(m[2]).digest('hex');
  if (sum !== m[1]) throw new PgpilotError('Corrupt', `backup manifest ${where} fails its checksum`);
  const parsed = JSON.parse(m[2]) as BackupManifest;
  if (parsed.format !== MANIFEST_FORMAT) throw new PgpilotError('Repo', `backup manifest ${where} has format ${parsed.format}; this pgpilot reads ${MANIFEST_FORMAT}`);
  return parsed;
}

/** Writes the copy, then the manifest: the backup counts as complete only once the manifest exists. */
export async function writeManifest(storage: Storage, m: BackupManifest): Promise<void> {
  const buf = serializeManifest(m);
  await storage.write(copyPath(m.label), buf);
  await storage.write(manifestPath(m.label), buf);
}

/** Reads a backup's manifest, falling back to the copy when the main one is damaged; undefined when neither exists. */
export async function readManifest(storage: Storage, label: string): Promise<BackupManifest | undefined> {
  if ((await storage.stat(manifestPath(label))) === undefined) return undefined;
  let first: unknown;
  for (const p of [manifestPath(label), copyPath(label)]) {
    try {
      return parseManifest(await storage.readBuffer(p), `${storage.location}/${p}`);
    } catch (e) {
      first ??= e;
    }
  }
  throw first;
}
