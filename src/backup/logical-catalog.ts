// Logical dumps in a repository: labels, the self-checksummed dump manifest, listing dumps and expiring old ones.
import { createHash } from 'node:crypto';
import { PgpilotError } from '../base/errors.js';
import type { Logger } from '../base/log.js';
import { type CodecOptions, decodeBuffer, encodeBuffer } from './codec/codec.js';
import type { CompressType } from './codec/compress.js';
import { codecFor, type Repo } from './repo.js';

export const DUMP_FORMAT = 1;
/** A dump label: its start time in UTC, then `L` (logical), e.g. `20261122-081500L`. */
export const DUMP_LABEL_PATTERN = /^\d{8}-\d{6}L$/;
const MANIFEST_NAME = 'dump.manifest';

export const dumpDir = (label: string): string => `dump/${label}/`;
export const dumpManifestPath = (label: string): string => `${dumpDir(label)}${MANIFEST_NAME}`;

export function dumpLabel(now: Date): string {
  const iso = now.toISOString();
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}-${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}L`;
}

export function isDumpLabel(s: string): boolean {
  return DUMP_LABEL_PATTERN.test(s);
}

/** The object of a database's dump; the name is percent-encoded so any database name is one safe path segment. */
export function databaseObject(label: string, database: string, ext: string): string {
  return `${dumpDir(label)}${encodeURIComponent(database)}.dump${ext}`;
}

export function globalsObject(label: string, ext: string): string {
  return `${dumpDir(label)}globals.sql${ext}`;
}

/** One stored stream: `size` and `sha256` describe the plain bytes, `storedSize` the compressed/encrypted object. */
export interface DumpObject {
  object: string;
  size: number;
  storedSize: number;
  sha256: string;
}

export interface DumpDatabase extends DumpObject {
  name: string;
}

export interface DumpManifest {
  format: number;
  label: string;
  startTime: string;
  stopTime: string;
  /** server_version_num of the dumped server, e.g. 150004. */
  pgVersion: number;
  /** How the objects are stored; the manifest itself is only encrypted (when the repository is). */
  compress: { type: CompressType; level: number };
  encrypted: boolean;
  /** pg_dumpall --globals-only: roles, their passwords and memberships, tablespaces. */
  globals: DumpObject;
  /** pg_dump -Fc of each database. */
  databases: DumpDatabase[];
  status: 'complete';
}

export type DumpInfo =
  | { status: 'complete'; label: string; storedSize: number; manifest: DumpManifest }
  /** No valid manifest: interrupted, in progress, or its manifest is damaged (`reason` says which). */
  | { status: 'incomplete'; label: string; storedSize: number; reason: string };
export type CompleteDump = Extract<DumpInfo, { status: 'complete' }>;

/** The manifest as stored (before encryption): JSON with a leading `sha256` of the body. */
export function serializeDumpManifest(m: DumpManifest): Buffer {
  const body = JSON.stringify(m);
  const sum = createHash('sha256').update(body).digest('hex');
  return Buffer.from(`{"sha256":"${sum}","manifest":${body}}\n`);
}

/** Parses and validates a stored manifest of dump `label`; damage or an unexpected shape is a Corrupt error. */
export function parseDumpManifest(buf: Buffer, label: string, where: string): DumpManifest {
  const text = buf.toString('utf8');
  const m = /^\{"sha256":"([0-9a-f]{64})","manifest":([\s\S]*)\}\n?$/.exec(text);
  if (m?.[1] === undefined || m[2] === undefined) throw new PgpilotError('Corrupt', `dump manifest ${where} is not a pgpilot dump manifest`);
  if (createHash('sha256').update(m[2]).digest('hex') !== m[1]) throw new PgpilotError('Corrupt', `dump manifest ${where} fails its checksum`);
  const parsed = JSON.parse(m[2]) as Record<string, unknown>;
  if (parsed.format !== DUMP_FORMAT) {
    throw new PgpilotError('Repo', `dump manifest ${where} has format ${String(parsed.format)}; this pgpilot reads ${DUMP_FORMAT}`);
  }
  const problem = manifestProblem(parsed, label);
  if (problem !== undefined) throw new PgpilotError('Corrupt', `dump manifest ${where} is invalid: ${problem}`);
  return parsed as unknown as DumpManifest;
}

function manifestProblem(p: Record<string, unknown>, label: string): string | undefined {
  if (p.label !== label) return `its label ${JSON.stringify(p.label)} is not ${label}`;
  if (p.status !== 'complete') return `status ${JSON.stringify(p.status)} is not "complete"`;
  for (const key of ['startTime', 'stopTime'] as const) {
    if (typeof p[key] !== 'string' || Number.isNaN(Date.parse(p[key]))) return `${key} is not a time`;
  }
  if (!Number.isInteger(p.pgVersion)) return 'pgVersion is not an integer';
  const compress = p.compress as { type?: unknown; level?: unknown } | undefined;
  if (!['zstd', 'lz4', 'gzip', 'none'].includes(String(compress?.type)) || !Number.isInteger(compress?.level)) return 'compress is invalid';
  if (typeof p.encrypted !== 'boolean') return 'encrypted is not a boolean';
  const globals = objectProblem(p.globals, label);
  if (globals !== undefined) return `globals: ${globals}`;
  if (!Array.isArray(p.databases)) return 'databases is not a list';
  const names = new Set<string>();
  for (const [i, db] of (p.databases as unknown[]).entries()) {
    const name = (db as { name?: unknown } | null)?.name;
    if (typeof name !== 'string' || name === '') return `databases[${i}].name is not a database name`;
    if (names.has(name)) return `database ${name} is listed twice`;
    names.add(name);
    const problem = objectProblem(db, label);
    if (problem !== undefined) return `databases[${i}]: ${problem}`;
  }
  return undefined;
}

function objectProblem(o: unknown, label: string): string | undefined {
  const x = o as Partial<Record<keyof DumpObject, unknown>> | null | undefined;
  if (typeof x?.object !== 'string' || !x.object.startsWith(dumpDir(label)) || x.object.slice(dumpDir(label).length).includes('/')) {
    return 'object is not a file of this dump';
  }
  if (!isSize(x.size) || !isSize(x.storedSize)) return 'size or storedSize is not a byte count';
  if (typeof x.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(x.sha256)) return 'sha256 is not a SHA-256';
  return undefined;
}

const isSize = (n: unknown): boolean => Number.isSafeInteger(n) && (n as number) >= 0;

/** The manifest is encrypted like everything else in an encrypted repository, never compressed. */
function manifestCodec(repo: Repo): CodecOptions {
  return codecFor('none', 0, repo.key);
}

/** Writes the manifest: the last step of a dump, after which it counts as complete. */
export async function writeDumpManifest(repo: Repo, m: DumpManifest): Promise<void> {
  await repo.storage.write(dumpManifestPath(m.label), await encodeBuffer(manifestCodec(repo), serializeDumpManifest(m)));
}

/** A dump's manifest; undefined when there is none (no such dump, or an interrupted one). */
export async function readDumpManifest(repo: Repo, label: string): Promise<DumpManifest | undefined> {
  const p = dumpManifestPath(label);
  if ((await repo.storage.stat(p)) === undefined) return undefined;
  const where = `${repo.storage.location}/${p}`;
  const plain = await decodeBuffer(manifestCodec(repo), await repo.storage.readBuffer(p), where);
  return parseDumpManifest(plain, label, where);
}

/** A complete dump's manifest, or a NotFound error naming the dumps there are. */
export async function requireDumpManifest(repo: Repo, label: string): Promise<DumpManifest> {
  const m = await readDumpManifest(repo, label);
  if (m !== undefined) return m;
  const complete = (await listDumps(repo)).filter((d) => d.status === 'complete').map((d) => d.label);
  throw new PgpilotError('NotFound', `repository ${repo.name} holds no complete logical dump labelled ${label}`, {
    hint: complete.length === 0 ? 'take one first' : `complete dumps: ${complete.join(', ')}`,
  });
}

/**
 * Every dump in the repository, oldest first. A damaged manifest lists its dump as incomplete; a manifest that does not
 * decrypt or has a newer format is an error, never a reason to expire the dump.
 */
export async function listDumps(repo: Repo): Promise<DumpInfo[]> {
  const sizes = new Map<string, number>();
  for (const o of await repo.storage.list('dump/')) {
    const label = o.path.split('/')[1] ?? '';
    if (isDumpLabel(label)) sizes.set(label, (sizes.get(label) ?? 0) + o.size);
  }
  const dumps: DumpInfo[] = [];
  for (const label of [...sizes.keys()].sort()) {
    const storedSize = sizes.get(label) ?? 0;
    try {
      const manifest = await readDumpManifest(repo, label);
      dumps.push(manifest === undefined
        ? { status: 'incomplete', label, storedSize, reason: 'no manifest: interrupted or still running' }
        : { status: 'complete', label, storedSize, manifest });
    } catch (e) {
      if (!(e instanceof PgpilotError) || e.code !== 'Corrupt') throw e;
      dumps.push({ status: 'incomplete', label, storedSize, reason: e.message });
    }
  }
  return dumps;
}

/**
 * Which dumps expire: complete ones beyond the newest `keep`, and incomplete ones older than the newest complete one
 * (a newer incomplete dump may still be running).
 */
export function chooseExpiredDumps(dumps: readonly Pick<DumpInfo, 'label' | 'status'>[], keep: number): string[] {
  if (!Number.isInteger(keep) || keep < 1) {
    throw new PgpilotError('Config', `logical dump retention must keep at least 1 dump, not ${keep}`, {
      hint: 'set spec.backup.logical.retention to 1 or more',
    });
  }
  const complete = dumps.filter((d) => d.status === 'complete').map((d) => d.label).sort();
  const kept = new Set(complete.slice(-keep));
  const newest = complete.at(-1);
  return dumps
    .filter((d) => (d.status === 'complete' ? !kept.has(d.label) : newest !== undefined && d.label < newest))
    .map((d) => d.label)
    .sort();
}

/** Removes expired dumps (manifest first, so an interrupted removal leaves an incomplete dump); returns their labels. */
export async function expireDumps(repo: Repo, keep: number, log?: Logger): Promise<string[]> {
  const expired = chooseExpiredDumps(await listDumps(repo), keep);
  for (const label of expired) {
    await repo.storage.remove(dumpManifestPath(label));
    await repo.storage.removeTree(dumpDir(label));
    log?.info('expired logical dump', { repo: repo.name, label });
  }
  return expired;
}
