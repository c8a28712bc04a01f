// What every way of copying a data file into a backup shares: the task and its result, the stored object's encoder,
// chunked reads into one reused buffer, and page checksum verification.
import type { FileHandle } from 'node:fs/promises';
import { Transform, pipeline } from 'node:stream';
import type { Lsn } from '../model/lsn.js';
import type { Storage } from '../storage/storage.js';
import type { ChecksumError, FileEntry, FileStore } from './backup-manifest.js';
import type { BundleWriter } from './bundle.js';
import { type CodecOptions, encoder } from './codec/codec.js';
import type { DataFile } from './data-files.js';
import { PAGE_SIZE } from './page-delta.js';
import { pageLsn, relationSegmentNumber, verifyPage } from './page.js';

/** Pages per read: 1 MiB. */
const CHUNK_PAGES = 128;
const CHUNK = CHUNK_PAGES * PAGE_SIZE;
const BLOCKS_PER_SEGMENT = 131072;

export interface CopyTask extends DataFile {
  /** The file's entry in the reference backup, for diff and incr. */
  ref?: { entry: FileEntry; label: string };
  /**
   * Blocks of this file (from its start) that WAL records changed since the reference backup started, sorted. When
   * given, only these (and blocks past the reference's size) are read; otherwise every page's LSN is looked at.
   */
  blocks?: number[];
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

export type Base = Pick<FileEntry, 'path' | 'mode' | 'mtimeMs'>;

/** The file hash when known (a delta found from the WAL has none). */
export const withSha = (sha256: string | undefined): { sha256?: string } => (sha256 === undefined ? {} : { sha256 });

export function sameAs(ref: { entry: FileEntry; label: string }): FileStore {
  if (ref.entry.store.kind === 'empty') return { kind: 'empty' };
  return { kind: 'same', base: ref.entry.store.kind === 'same' ? ref.entry.store.base : ref.label };
}

/**
 * The encoder of one stored object; `write` resolves once the bytes are taken in (the buffer may then be reused),
 * `done` with the stored size once the object is durable.
 */
export function objectSink(env: CopyEnv, object: string): { sink: Transform; write: (chunk: Buffer) => Promise<void>; done: Promise<number> } {
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

/** Chunks read ahead of the one being worked on: a cold disk answers a read in about the time a chunk takes. */
const READ_AHEAD = 3;

/**
 * Reads the file in 1 MiB chunks into a few reused buffers: each chunk is valid until the next is asked for, and the
 * next reads are under way while the caller works on the current one.
 */
export async function* readChunks(fh: FileHandle): AsyncGenerator<Buffer> {
  const buffers = Array.from({ length: READ_AHEAD + 1 }, () => chunkBuffers.pop() ?? Buffer.allocUnsafeSlow(CHUNK));
  const pending: Promise<{ bytesRead: number; buffer: Buffer }>[] = [];
  let position = 0;
  let issued = 0;
  const issue = (): void => {
    const buffer = buffers[issued % buffers.length] as Buffer;
    pending.push(fh.read(buffer, 0, CHUNK, position).then(({ bytesRead }) => ({ bytesRead, buffer })));
    position += CHUNK;
    issued += 1;
  };
  try {
    for (let i = 0; i < READ_AHEAD; i++) issue();
    for (;;) {
      const { bytesRead, buffer } = await (pending.shift() as Promise<{ bytesRead: number; buffer: Buffer }>);
      if (bytesRead === 0) return;
      // The buffer handed out last is free again: read into it.
      issue();
      yield bytesRead === CHUNK ? buffer : buffer.subarray(0, bytesRead);
      if (bytesRead < CHUNK) return;
    }
  } finally {
    // Stopped early: the reads under way finish before the caller closes the file.
    await Promise.allSettled(pending);
    chunkBuffers.push(...buffers);
  }
}

/** Read buffers kept for the next file: a worker copies one file at a time, and memory stays flat over thousands. */
const chunkBuffers: Buffer[] = [];

/**
 * Verifies page checksums of a chunk read at `position`. A failing page is read again: one that now passes, or that
 * changed after the backup started (a torn read of a page being written; WAL replay rewrites it), is not an error.
 */
export async function checkPages(task: CopyTask, env: CopyEnv, fh: FileHandle, chunk: Buffer, position: number): Promise<ChecksumError[]> {
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
