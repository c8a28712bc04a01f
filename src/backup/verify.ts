// Verification: re-reads a repository, checks every stored file against its manifest checksum and the WAL each backup needs.
import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { errorMessage } from '../base/errors.js';
import type { Logger } from '../base/log.js';
import { parseLsn } from '../model/lsn.js';
import { segmentsBetween } from '../model/wal.js';
import { type BackupManifest, manifestPath, parseManifest } from './backup-manifest.js';
import { listCatalog } from './catalog.js';
import { type CodecOptions, decodeBuffer, decoder } from './codec/codec.js';
import { codecFor, type Repo } from './repo.js';
import { type ArchivedWal, listWal, walCodec } from './wal-archive.js';

export interface VerifySummary {
  repo: string;
  ok: boolean;
  problems: string[];
  backups: number;
  objects: number;
  walFiles: number;
}

/** Checks every complete backup (or `set` and the backups it depends on), and the archived WAL. */
export async function verifyRepo(repo: Repo, opts: { set?: string; log: Logger }): Promise<VerifySummary> {
  const problems: string[] = [];
  const catalog = await listCatalog(repo.storage);
  const complete = catalog.flatMap((e) => (e.status === 'complete' ? [e.manifest] : []));
  let chosen = complete;
  if (opts.set !== undefined) {
    const target = complete.find((m) => m.label === opts.set);
    if (target === undefined) problems.push(`backup ${opts.set} is not a complete backup in repository ${repo.name}`);
    chosen = target === undefined ? [] : complete.filter((m) => target.chain.includes(m.label));
  }
  let objects = 0;
  for (const m of chosen) {
    await checkManifestCopies(repo, m.label, problems);
    objects += await checkBackupFiles(repo, m, problems);
  }
  const wal = await listWal(repo);
  const walFiles = await checkWal(repo, wal, chosen, problems, opts.set === undefined);
  const summary = { repo: repo.name, ok: problems.length === 0, problems, backups: chosen.length, objects, walFiles };
  const fields = { repo: repo.name, problems: problems.length, objects, walFiles };
  if (summary.ok) opts.log.info('verify finished', fields);
  else opts.log.error('verify found problems', fields);
  return summary;
}

async function checkManifestCopies(repo: Repo, label: string, problems: string[]): Promise<void> {
  for (const p of [manifestPath(label), `${manifestPath(label)}.copy`]) {
    try {
      parseManifest(await repo.storage.readBuffer(p), p);
    } catch (e) {
      problems.push(`${p}: ${errorMessage(e)}`);
    }
  }
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Every object this backup stored: whole files streamed and hashed, bundles read once and each slice checked. */
async function checkBackupFiles(repo: Repo, m: BackupManifest, problems: string[]): Promise<number> {
  const codec = codecFor(m.compress.type, m.compress.level, repo.key);
  const bundles = new Map<string, { offset: number; storedSize: number; sha256: string; path: string }[]>();
  let objects = 0;
  for (const f of m.files) {
    const s = f.store;
    // A whole file always carries its SHA-256; only a delta found from the WAL has none (its own hash covers it).
    const expected = s.kind === 'delta' ? s.deltaSha256 : (f.sha256 ?? 'missing from the manifest');
    if (s.kind === 'bundle' || (s.kind === 'delta' && s.offset !== undefined)) {
      const slices = bundles.get(s.object) ?? [];
      slices.push({ offset: s.offset ?? 0, storedSize: s.storedSize, sha256: expected, path: f.path });
      bundles.set(s.object, slices);
    } else if (s.kind === 'file' || s.kind === 'delta') {
      objects += 1;
      const found = await streamHash(repo, s.object, codec).catch((e: unknown) => `unreadable (${errorMessage(e)})`);
      if (found !== expected) problems.push(`${m.label}: ${s.object} (${f.path}) ${found.length === 64 ? 'does not match its checksum' : found}`);
    }
  }
  for (const [object, slices] of bundles) {
    objects += 1;
    await checkBundle(repo, m.label, object, slices, codec, problems);
  }
  return objects;
}

async function checkBundle(
  repo: Repo,
  label: string,
  object: string,
  slices: { offset: number; storedSize: number; sha256: string; path: string }[],
  codec: CodecOptions,
  problems: string[],
): Promise<void> {
  let data: Buffer;
  try {
    data = await repo.storage.readBuffer(object);
  } catch (e) {
    problems.push(`${label}: bundle ${object} is unreadable: ${errorMessage(e)}`);
    return;
  }
  const covered = slices.reduce((n, s) => n + s.storedSize, 0);
  if (covered !== data.length) problems.push(`${label}: bundle ${object} holds ${data.length} bytes, its files ${covered}`);
  for (const s of slices) {
    try {
      const plain = await decodeBuffer(codec, data.subarray(s.offset, s.offset + s.storedSize), `${object}@${s.offset}`);
      if (sha256(plain) !== s.sha256) problems.push(`${label}: ${s.path} in bundle ${object} does not match its checksum`);
    } catch (e) {
      problems.push(`${label}: ${s.path} in bundle ${object}: ${errorMessage(e)}`);
    }
  }
}

async function streamHash(repo: Repo, object: string, codec: CodecOptions): Promise<string> {
  const hash = createHash('sha256');
  const sink = new Transform({
    transform(c: Buffer, _e, cb): void {
      hash.update(c);
      cb();
    },
  });
  await pipeline(await repo.storage.read(object), decoder(codec), sink);
  return hash.digest('hex');
}

/** Each archived file decodes to its recorded hash; each backup's WAL range is present. */
async function checkWal(repo: Repo, wal: ArchivedWal[], backups: BackupManifest[], problems: string[], all: boolean): Promise<number> {
  const names = new Set(wal.map((w) => w.name));
  for (const m of backups) {
    for (const seg of segmentsBetween(m.timeline, parseLsn(m.startLsn), parseLsn(m.stopLsn))) {
      if (!names.has(seg)) problems.push(`${m.label}: needs WAL segment ${seg}, missing from the archive`);
    }
  }
  const needed = new Set(backups.flatMap((m) => segmentsBetween(m.timeline, parseLsn(m.startLsn), parseLsn(m.stopLsn))));
  let checked = 0;
  for (const w of wal) {
    if (!all && !needed.has(w.name)) continue;
    checked += 1;
    try {
      const found = await streamHash(repo, w.path, walCodec(repo, w));
      if (w.hash !== undefined && !found.startsWith(w.hash)) problems.push(`archived WAL ${w.path} does not match its checksum`);
    } catch (e) {
      problems.push(`archived WAL ${w.path}: ${errorMessage(e)}`);
    }
  }
  return checked;
}
