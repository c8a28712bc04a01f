// The WAL archive of a repository: pushing, fetching and listing WAL segments and history files under wal/.
import { createHash, randomBytes, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { PgpilotError, assert, errorMessage } from '../base/errors.js';
import { parseWalFileName, type WalFile } from '../model/wal.js';
import type { StoredObject } from '../storage/storage.js';
import { type CodecOptions, decodeBuffer, decoder, encodeBuffer, encoder, storedExtension } from './codec/codec.js';
import type { CompressType } from './codec/compress.js';
import { codecFor, type Repo } from './repo.js';

export const WAL_DIR = 'wal';
const HISTORY_DIR = `${WAL_DIR}/history`;
/** Hex digits of the content's SHA-256 in a segment's object name. */
const HASH_CHARS = 16;
const COMPRESS_TYPES: readonly CompressType[] = ['zstd', 'lz4', 'gzip', 'none'];

/** One WAL file as stored in a repository. */
export interface ArchivedWal {
  /** The WAL file name, as PostgreSQL names it (e.g. 000000010000000000000003, 00000002.history). */
  name: string;
  kind: WalFile['kind'];
  tli: number;
  /** Undefined for timeline history files. */
  segNo: bigint | undefined;
  /** First 16 hex digits of the SHA-256 of the plain content; undefined for history and backup history files. */
  hash: string | undefined;
  storedSize: number;
  /** The object's path in the storage. */
  path: string;
}

/** Segments and .partial files carry their content hash (same name, different content is detectable); others do not. */
function isHashed(kind: WalFile['kind']): boolean {
  return kind === 'segment' || kind === 'partial';
}

function walFile(walName: string): WalFile {
  const parsed = parseWalFileName(walName);
  if (parsed === undefined) {
    throw new PgpilotError('Archive', `"${walName}" is not a WAL file name`, {
      hint: 'expected a segment (24 hex digits), a .partial, a timeline .history or a .backup history file name',
    });
  }
  return parsed;
}

/** The directory-like prefix of a WAL file's objects: `wal/<first 16 characters>/`, or `wal/history/`. */
export function walObjectDir(walName: string): string {
  return isHashed(walFile(walName).kind) ? `${WAL_DIR}/${walName.slice(0, 16)}/` : `${HISTORY_DIR}/`;
}

/** The object path of a WAL file: `<dir><name>-<hash><ext>` for segments and .partial files, `<dir><name><ext>` else. */
export function walObjectPath(walName: string, hash: string | undefined, ext: string): string {
  assert(isHashed(walFile(walName).kind) === (hash !== undefined), `WAL file ${walName}: content hash ${hash} does not fit its kind`);
  return `${walObjectDir(walName)}${walName}${hash === undefined ? '' : `-${hash}`}${ext}`;
}

const SEGMENT_OBJECT = new RegExp(`^${WAL_DIR}/([0-9A-F]{16})/([0-9A-F]{24}(?:\\.partial)?)-([0-9a-f]{${HASH_CHARS}})(.*)$`);
const HISTORY_OBJECT = new RegExp(`^${HISTORY_DIR}/([0-9A-F]{8}\\.history|[0-9A-F]{24}\\.[0-9A-F]{8}\\.backup)(.*)$`);

/** Parses an object path of the WAL archive; undefined for anything else. */
export function parseWalObjectPath(p: string): { name: string; file: WalFile; hash: string | undefined; ext: string } | undefined {
  const segment = SEGMENT_OBJECT.exec(p);
  const history = segment === null ? HISTORY_OBJECT.exec(p) : null;
  const [name, hash, ext] = segment === null ? [history?.[1], undefined, history?.[2]] : [segment[2], segment[3], segment[4]];
  if (name === undefined || (segment !== null && segment[1] !== name.slice(0, 16))) return undefined;
  const file = parseWalFileName(name);
  return file === undefined ? undefined : { name, file, hash, ext: ext ?? '' };
}

function archivedWal(parsed: { name: string; file: WalFile; hash: string | undefined }, o: StoredObject): ArchivedWal {
  const { file } = parsed;
  return {
    name: parsed.name, kind: file.kind, tli: file.tli, segNo: file.kind === 'history' ? undefined : file.segNo,
    hash: parsed.hash, storedSize: o.size, path: o.path,
  };
}

/** Every WAL file in the repository, sorted by object path. */
export async function listWal(repo: Repo): Promise<ArchivedWal[]> {
  const objects = await repo.storage.list(`${WAL_DIR}/`);
  return objects.flatMap((o) => {
    const parsed = parseWalObjectPath(o.path);
    return parsed === undefined ? [] : [archivedWal(parsed, o)];
  });
}

/** The stored copies of one WAL file (normally one; more when the compression setting changed between pushes). */
export async function findStored(repo: Repo, walName: string): Promise<ArchivedWal[]> {
  const prefix = `${walObjectDir(walName)}${walName}${isHashed(walFile(walName).kind) ? '-' : ''}`;
  const objects = await repo.storage.list(prefix);
  return objects.flatMap((o) => {
    const parsed = parseWalObjectPath(o.path);
    return parsed?.name === walName ? [archivedWal(parsed, o)] : [];
  });
}

/**
 * Pushes a WAL file to the repository. The same name with the same content already there is success ('exists');
 * with different content it is an Archive error, and nothing is written.
 */
export async function pushWal(repo: Repo, file: string, walName: string): Promise<'stored' | 'exists'> {
  const kind = walFile(walName).kind;
  const ext = storedExtension(repo.codec);
  if (isHashed(kind)) {
    const hash = await hashFile(file);
    const stored = await findStored(repo, walName);
    if (stored.some((s) => s.hash === hash)) return 'exists';
    if (stored.length > 0) throw conflict(repo, walName);
    await repo.storage.write(walObjectPath(walName, hash, ext), encodedFile(repo.codec, file));
    return 'stored';
  }
  const plain = await readLocal(file);
  const stored = await findStored(repo, walName);
  for (const s of stored) {
    if ((await readStored(repo, s)).equals(plain)) return 'exists';
  }
  if (stored.length > 0) throw conflict(repo, walName);
  await repo.storage.write(walObjectPath(walName, undefined, ext), await encodeBuffer(repo.codec, plain));
  return 'stored';
}

/**
 * Fetches a WAL file into `destFile` (decoded; written to a temporary file, synced unless `sync` is false, and renamed
 * into place).
 * False when the repository does not hold it. A segment whose content does not match its hash is a Corrupt error.
 */
export async function getWal(repo: Repo, walName: string, destFile: string, options: { sync?: boolean } = {}): Promise<boolean> {
  const stored = await findStored(repo, walName);
  const chosen = stored[0];
  if (chosen === undefined) return false;
  if (new Set(stored.map((s) => s.hash)).size > 1) {
    throw new PgpilotError('Archive', `repository ${repo.name} holds ${stored.length} different versions of WAL file ${walName}`, {
      hint: `inspect ${stored.map((s) => s.path).join(', ')}: only one can belong to this cluster's history`,
    });
  }
  // One segment (16 MiB) at a time: decoding it whole keeps this simple, and restore fetches one file per call.
  const plain = await readStored(repo, chosen);
  checkContentHash(repo, chosen, plain);
  const temp = path.join(path.dirname(destFile), `.${path.basename(destFile)}.tmp-${randomBytes(6).toString('hex')}`);
  try {
    const handle = await fsp.open(temp, 'wx', 0o600);
    try {
      await handle.writeFile(plain);
      if (options.sync !== false) await handle.sync();
    } finally {
      await handle.close();
    }
    await fsp.rename(temp, destFile);
  } catch (e) {
    await fsp.rm(temp, { force: true });
    throw new PgpilotError('Os', `cannot write ${destFile}: ${errorMessage(e)}`, { hint: 'check the directory exists, is writable and the disk is not full', cause: e });
  }
  return true;
}

/** The codec a stored WAL object was written with: its extension names the compression; the key is the repository's. */
export function walCodec(repo: Repo, stored: ArchivedWal): CodecOptions {
  const ext = parseWalObjectPath(stored.path)?.ext ?? '';
  for (const type of COMPRESS_TYPES) {
    const codec = codecFor(type, 0, repo.key);
    if (storedExtension(codec) === ext) return codec;
  }
  throw new PgpilotError('Repo', `WAL object ${stored.path} in repository ${repo.name} has an unknown extension "${ext}"`, {
    hint: 'the object was not written by this pgpilot version, or the repository is damaged',
  });
}

/** The decoded content of an archived file (a history file, typically; segments are 16 MiB). */
export async function readStored(repo: Repo, stored: ArchivedWal): Promise<Buffer> {
  return decodeBuffer(walCodec(repo, stored), await repo.storage.readBuffer(stored.path), `${repo.name}:${stored.path}`);
}

/**
 * Decodes an archived segment into `into` (exactly its size), streaming, and checks it against its content hash:
 * reading many segments this way keeps memory at the caller's buffers.
 */
export async function readStoredInto(repo: Repo, stored: ArchivedWal, into: Buffer): Promise<void> {
  const where = `${repo.name}:${stored.path}`;
  let filled = 0;
  for await (const chunk of (await repo.storage.read(stored.path)).pipe(decoder(walCodec(repo, stored), where))) {
    const b = chunk as Buffer;
    if (filled + b.length > into.length) throw new PgpilotError('Corrupt', `WAL object ${where} decodes to more than ${into.length} bytes`);
    b.copy(into, filled);
    filled += b.length;
  }
  if (filled !== into.length) throw new PgpilotError('Corrupt', `WAL object ${where} decodes to ${filled} bytes, not ${into.length}`);
  checkContentHash(repo, stored, into);
}

/** A segment's decoded content against the hash in its object name (history files carry none). */
function checkContentHash(repo: Repo, stored: ArchivedWal, plain: Buffer): void {
  if (stored.hash !== undefined && contentHash(plain) !== stored.hash) {
    throw new PgpilotError('Corrupt', `WAL file ${stored.path} in repository ${repo.name} does not match its content hash`, {
      hint: 'the stored object is damaged: restore it from another repository, or recover only up to the WAL before it',
    });
  }
}

function conflict(repo: Repo, walName: string): PgpilotError {
  return new PgpilotError('Archive', `WAL file ${walName} already archived in repo ${repo.name} with different content`, {
    hint: 'another cluster, or a member on a diverged history, archives into this repository: give each cluster its own '
      + 'repository, and check that no two members act as primary on the same timeline',
  });
}

/** The hash of a segment's content as its object name carries it. */
export function contentHash(plain: Buffer): string {
  return shortHash(createHash('sha256').update(plain));
}

/** The hash as object names carry it: the first 16 hex digits. */
function shortHash(hash: Hash): string {
  return hash.digest('hex').slice(0, HASH_CHARS);
}

/** The short SHA-256 of a local file. */
async function hashFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  await localStep(file, async () => {
    for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  });
  return shortHash(hash);
}

function readLocal(file: string): Promise<Buffer> {
  return localStep(file, () => fsp.readFile(file));
}

/** A local file's bytes, encoded, as a stream; a read error fails the stream (and so the write consuming it). */
function encodedFile(codec: CodecOptions, file: string): Readable {
  const encoded = encoder(codec);
  pipeline(createReadStream(file), encoded).catch((e: unknown) => encoded.destroy(e instanceof Error ? e : new Error(errorMessage(e))));
  return encoded;
}

async function localStep<T>(file: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (e) {
    throw new PgpilotError('Os', `cannot read WAL file ${file}: ${errorMessage(e)}`, {
      hint: 'check that the file exists and is readable by the WAL archiver', cause: e,
    });
  }
}
