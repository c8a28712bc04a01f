// Copies one data-directory file into a backup: whole, as changed pages over the reference, or not at all if unchanged.
import { createHash } from 'node:crypto';
import { type FileHandle, open } from 'node:fs/promises';
import { Transform, pipeline } from 'node:stream';
import type { Lsn } from '../model/lsn.js';
import type { Storage } from '../storage/storage.js';
import type { ChecksumError, FileEntry, FileStore } from './backup-manifest.js';
import type { BundleWriter } from './bundle.js';
import { type CodecOptions, encodeBuffer, encoder } from './codec/codec.js';
import type { DataFile } from './data-files.js';
import { DeltaWriter, PAGE_SIZE } from './page-delta.js';
import { pageIsNew, pageLsn, relationSegmentNumber, verifyPage } from './page.js';

/** Files up to this size are read whole and packed into bundles. */
export const SMALL_FILE = 256 * 1024;
const CHUNK = 128 * PAGE_SIZE;
const BLOCKS_PER_SEGMENT = 131072;
/** A delta that grows past this is streamed to its own object instead of kept for a bundle. */
const DELTA_BUFFER = 4 * 1024 * 1024;

export interface CopyTask extends DataFile {
  /** The file's entry in the reference backup, for diff and incr. */
  ref?: { entry: FileEntry; label: string };
}

export interface CopyEnv {
  storage: Storage;
  codec: CodecOptions;
  /** Suffix of stored objects, e.g. `.zst.enc`. */
  ext: string;
  /** `backup/<label>/`. */
  dir: string;
  /** Pages with an LSN at or after this changed since the reference backup started. */
  refStartLsn: Lsn | undefined;
  /** Start of the reference backup, ms: a file not modified since (same size) is unchanged. */
  refStartMs: number | undefined;
  backupStartLsn: Lsn;
  checksums: boolean;
  bundle: BundleWriter;
}

export interface CopyResult {
  entry: FileEntry;
  readBytes: number;
  checksumErrors: ChecksumError[];
}

/** Copies a file; undefined when it vanished meanwhile (PostgreSQL dropped it; WAL replay accounts for that). */
export async function copyFile(task: CopyTask, env: CopyEnv): Promise<CopyResult | undefined> {
  const base = { path: task.rel, mode: task.mode, mtimeMs: task.mtimeMs };
  const unchanged = unchangedByTime(task, env);
  if (unchanged !== undefined) return { entry: { ...base, size: task.size, sha256: unchanged.sha256, store: unchanged.store }, readBytes: 0, checksumErrors: [] };
  let fh: FileHandle;
  try {
    fh = await open(task.abs, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    if (task.size <= SMALL_FILE) return await copySmall(task, env, fh, base);
    if (task.kind === 'relation' && task.ref !== undefined && env.refStartLsn !== undefined) return await copyDelta(task, env, fh, base);
    return await copyWhole(task, env, fh, base);
  } finally {
    await fh.close();
  }
}

/** Same size and not modified since the reference backup started: the reference's version is this file. */
function unchangedByTime(task: CopyTask, env: CopyEnv): { sha256: string; store: FileStore } | undefined {
  const ref = task.ref;
  if (ref === undefined || env.refStartMs === undefined) return undefined;
  if (ref.entry.size !== task.size || ref.entry.mtimeMs !== task.mtimeMs) return undefined;
  // A margin for coarse file-system timestamps: a file touched around the reference's start is read again.
  if (task.mtimeMs >= env.refStartMs - 2000) return undefined;
  return { sha256: ref.entry.sha256, store: sameAs(ref) };
}

function sameAs(ref: { entry: FileEntry; label: string }): FileStore {
  if (ref.entry.store.kind === 'empty') return { kind: 'empty' };
  return { kind: 'same', base: ref.entry.store.kind === 'same' ? ref.entry.store.base : ref.label };
}

type Base = Pick<FileEntry, 'path' | 'mode' | 'mtimeMs'>;

async function copySmall(task: CopyTask, env: CopyEnv, fh: FileHandle, base: Base): Promise<CopyResult> {
  const data = await fh.readFile();
  const sha256 = createHash('sha256').update(data).digest('hex');
  const checksumErrors = task.kind === 'relation' ? await checkPages(task, env, fh, data, 0) : [];
  const entry = { ...base, size: data.length, sha256 };
  if (data.length === 0) return { entry: { ...entry, store: { kind: 'empty' } }, readBytes: 0, checksumErrors };
  if (task.ref !== undefined && task.ref.entry.sha256 === sha256 && task.ref.entry.size === data.length) {
    return { entry: { ...entry, store: sameAs(task.ref) }, readBytes: data.length, checksumErrors };
  }
  const encoded = await encodeBuffer(env.codec, data);
  const at = await env.bundle.add(encoded);
  return { entry: { ...entry, store: { kind: 'bundle', ...at, storedSize: encoded.length } }, readBytes: data.length, checksumErrors };
}

/** Streams a large file whole into its own object. */
async function copyWhole(task: CopyTask, env: CopyEnv, fh: FileHandle, base: Base): Promise<CopyResult> {
  const object = `${env.dir}data/${task.rel}${env.ext}`;
  const { sink, write, done } = objectSink(env, object);
  const hash = createHash('sha256');
  const checksumErrors: ChecksumError[] = [];
  let size = 0;
  try {
    for await (const chunk of readChunks(fh)) {
      hash.update(chunk);
      if (task.kind === 'relation') checksumErrors.push(...(await checkPages(task, env, fh, chunk, size)));
      size += chunk.length;
      await write(chunk);
    }
    sink.end();
  } catch (e) {
    sink.destroy(e as Error);
    throw e;
  }
  const storedSize = await done;
  return { entry: { ...base, size, sha256: hash.digest('hex'), store: { kind: 'file', object, storedSize } }, readBytes: size, checksumErrors };
}

/** Reads a changed relation file page by page and keeps the pages changed since the reference backup started. */
async function copyDelta(task: CopyTask, env: CopyEnv, fh: FileHandle, base: Base): Promise<CopyResult> {
  const ref = task.ref;
  const since = env.refStartLsn;
  if (ref === undefined || since === undefined) throw new Error('copyDelta needs a reference');
  const refBlocks = Math.floor(ref.entry.size / PAGE_SIZE);
  const object = `${env.dir}data/${task.rel}.delta${env.ext}`;
  const delta = new DeltaWriter();
  const deltaHash = createHash('sha256').update(delta.header());
  const hash = createHash('sha256');
  const checksumErrors: ChecksumError[] = [];
  let held: Buffer[] = [delta.header()];
  let heldBytes = 0;
  let stream: ReturnType<typeof objectSink> | undefined;
  let size = 0;
  const emit = async (parts: Buffer[]): Promise<void> => {
    for (const p of parts) deltaHash.update(p);
    if (stream === undefined) {
      // Pages point into the read buffer, which the next read overwrites: keep copies.
      held.push(...parts.map((p) => Buffer.from(p)));
      heldBytes += parts.reduce((n, p) => n + p.length, 0);
      if (heldBytes < DELTA_BUFFER) return;
      stream = objectSink(env, object);
      parts = held;
      held = [];
    }
    for (const p of parts) await stream.write(p);
  };
  try {
    for await (const chunk of readChunks(fh)) {
      hash.update(chunk);
      const firstBlock = size / PAGE_SIZE;
      for (let off = 0; off + PAGE_SIZE <= chunk.length; off += PAGE_SIZE) {
        const block = firstBlock + off / PAGE_SIZE;
        if (block < refBlocks && !pageIsNew(chunk, off) && pageLsn(chunk, off) < since) continue;
        // Only the pages stored are checked: the others were checked when an earlier backup stored them.
        checksumErrors.push(...(await checkPages(task, env, fh, chunk.subarray(off, off + PAGE_SIZE), size + off)));
        await emit(delta.page(block, chunk, off));
      }
      size += chunk.length;
    }
    await emit([delta.trailer(size)]);
  } catch (e) {
    stream?.sink.destroy(e as Error);
    throw e;
  }
  const sha256 = hash.digest('hex');
  const deltaSha256 = deltaHash.digest('hex');
  const entry = { ...base, size, sha256 };
  if (stream !== undefined) {
    stream.sink.end();
    const storedSize = await stream.done;
    return { entry: { ...entry, store: { kind: 'delta', base: ref.label, pages: delta.pages, deltaSha256, object, storedSize } }, readBytes: size, checksumErrors };
  }
  if (delta.pages === 0 && size === ref.entry.size) return { entry: { ...entry, store: sameAs(ref) }, readBytes: size, checksumErrors };
  const encoded = await encodeBuffer(env.codec, Buffer.concat(held));
  const at = await env.bundle.add(encoded);
  return {
    entry: { ...entry, store: { kind: 'delta', base: ref.label, pages: delta.pages, deltaSha256, ...at, storedSize: encoded.length } },
    readBytes: size,
    checksumErrors,
  };
}

/**
 * The encoder of one stored object; `write` resolves once the bytes are taken in (the buffer may then be reused),
 * `done` with the stored size once the object is durable.
 */
function objectSink(env: CopyEnv, object: string): { sink: Transform; write: (chunk: Buffer) => Promise<void>; done: Promise<number> } {
  const sink = encoder(env.codec);
  // Without compression or encryption the encoder passes buffers through as they are: hand it copies.
  const passThrough = env.codec.compress.type === 'none' && env.codec.key === undefined;
  let storedSize = 0;
  const counter = new Transform({
    transform(b: Buffer, _enc, cb): void {
      storedSize += b.length;
      cb(null, b);
    },
  });
  const encoded = pipeline(sink, counter, () => undefined);
  const done = env.storage.write(object, encoded).then(() => storedSize);
  done.catch((e: unknown) => sink.destroy(e as Error));
  return { sink, write: (chunk) => writeTo(sink, passThrough ? Buffer.from(chunk) : chunk), done };
}

/** Writes and waits until the encoder has taken the bytes in: the caller may then reuse the buffer. */
function writeTo(sink: Transform, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    sink.write(chunk, (e) => (e === null || e === undefined ? resolve() : reject(e)));
  });
}

/** Reads the file in 1 MiB chunks into one buffer, reused: each chunk is valid until the next is asked for. */
async function* readChunks(fh: FileHandle): AsyncGenerator<Buffer> {
  const buf = Buffer.allocUnsafeSlow(CHUNK);
  let position = 0;
  for (;;) {
    const { bytesRead } = await fh.read(buf, 0, CHUNK, position);
    if (bytesRead === 0) return;
    position += bytesRead;
    yield bytesRead === CHUNK ? buf : buf.subarray(0, bytesRead);
  }
}

/**
 * Verifies page checksums of a chunk read at `position`. A failing page is read again: one that now passes, or that
 * changed after the backup started (a torn read of a page being written; WAL replay rewrites it), is not an error.
 */
async function checkPages(task: CopyTask, env: CopyEnv, fh: FileHandle, chunk: Buffer, position: number): Promise<ChecksumError[]> {
  if (!env.checksums) return [];
  const errors: ChecksumError[] = [];
  const segment = relationSegmentNumber(task.rel.slice(task.rel.lastIndexOf('/') + 1));
  for (let off = 0; off + PAGE_SIZE <= chunk.length; off += PAGE_SIZE) {
    const block = segment * BLOCKS_PER_SEGMENT + (position + off) / PAGE_SIZE;
    const first = verifyPage(chunk, off, block);
    if (first === 'ok' || first === 'new') continue;
    const again = Buffer.alloc(PAGE_SIZE);
    await fh.read(again, 0, PAGE_SIZE, position + off);
    const second = verifyPage(again, 0, block);
    if (second === 'ok' || second === 'new' || pageLsn(again, 0) >= env.backupStartLsn) continue;
    errors.push({ path: task.rel, block, expected: second.bad.expected, found: second.bad.found });
  }
  return errors;
}
