// Worker thread of a restore: writes files from stored objects and bundle slices, and files with page deltas in one pass.
import { createHash } from 'node:crypto';
import { type FileHandle, open, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type Readable, pipeline } from 'node:stream';
import { PgpilotError } from '../base/errors.js';
import { openStorage } from '../storage/open-storage.js';
import type { StorageSpec } from '../storage/spec.js';
import type { Storage } from '../storage/storage.js';
import { type CodecOptions, decodeBuffer, decoder, framePool } from './codec/codec.js';
import type { FramePool } from './codec/frame-pool.js';
import { DeltaSource, mergeDeltas } from './delta-merge.js';
import type { Source } from './restore-plan.js';
import { serveWorker } from './worker-pool.js';

export type RestoreTask =
  /** Base contents packed in one bundle object: read it once, write each file. */
  | { kind: 'bundle'; object: string; compress: Source['compress']; files: { path: string; mode: number; offset: number; storedSize: number; sha256?: string }[] }
  /** A base content in its own object. `sha256` is checked when no delta follows. */
  | { kind: 'file'; source: Source; path: string; mode: number; sha256?: string }
  /** A base content with page deltas over it, in order, written in one pass; then the whole file's checksum. */
  | { kind: 'merge'; path: string; mode: number; size: number; base: Source | undefined; sha256?: string; deltas: (Source & { deltaSha256: string })[] };

export interface RestoreWorkerData {
  storageSpec: StorageSpec;
  key: Uint8Array | undefined;
  /** The data directory being restored into. */
  dir: string;
}

export interface RestoreResult {
  bytes: number;
}

interface Env {
  storage: Storage;
  key: Buffer | undefined;
  dir: string;
  bundles: Map<string, Buffer>;
  /** Syncs of written files still under way. */
  syncs: Promise<void>[];
  /** Output buffers of decoded frames, reused. */
  frames: FramePool;
}

const codec = (env: Env, s: { compress: Source['compress'] }): CodecOptions => ({ compress: s.compress, key: env.key });

function mismatch(file: string, what: string): PgpilotError {
  return new PgpilotError('Corrupt', `restored ${file} does not match the checksum in the backup manifest (${what})`, {
    hint: 'run pgpilot verify to find the damaged files in the repository',
  });
}

/** A whole bundle object, kept while consecutive tasks read it. */
async function bundle(env: Env, object: string): Promise<Buffer> {
  const hit = env.bundles.get(object);
  if (hit !== undefined) return hit;
  const data = await env.storage.readBuffer(object);
  if (env.bundles.size >= 2) env.bundles.delete(env.bundles.keys().next().value as string);
  env.bundles.set(object, data);
  return data;
}

async function slice(env: Env, s: Source): Promise<Buffer> {
  if (s.offset === undefined) return decodeBuffer(codec(env, s), await env.storage.readBuffer(s.object), s.object);
  const data = await bundle(env, s.object);
  return decodeBuffer(codec(env, s), data.subarray(s.offset, s.offset + s.storedSize), `${s.object}@${s.offset}`);
}

async function restoreBundle(env: Env, t: Extract<RestoreTask, { kind: 'bundle' }>): Promise<RestoreResult> {
  const data = await bundle(env, t.object);
  let bytes = 0;
  for (const f of t.files) {
    const plain = await decodeBuffer(codec(env, t), data.subarray(f.offset, f.offset + f.storedSize), `${t.object}@${f.offset}`);
    if (f.sha256 !== undefined && createHash('sha256').update(plain).digest('hex') !== f.sha256) throw mismatch(f.path, t.object);
    const file = path.join(env.dir, f.path);
    await writeFile(file, plain, { mode: f.mode });
    await syncLater(env, file);
    bytes += plain.length;
  }
  return { bytes };
}

/**
 * Streams an object into its file: each frame is hashed, then written while the next is decoded, into buffers of the
 * worker's frame pool that come back once written.
 */
async function restoreFile(env: Env, t: Extract<RestoreTask, { kind: 'file' }>): Promise<RestoreResult> {
  const hash = createHash('sha256');
  const file = path.join(env.dir, t.path);
  let bytes = 0;
  let writing: Promise<unknown> = Promise.resolve();
  const source = await env.storage.read(t.source.object);
  let fh: FileHandle | undefined;
  try {
    fh = await open(file, 'w', t.mode);
    const out = fh;
    await eachChunk(pipeline(source, decoder(codec(env, t.source), t.source.object, env.frames), () => undefined), async (frame) => {
      hash.update(frame);
      await writing;
      writing = writeAll(out, frame, bytes).then(() => env.frames.give(frame));
      // A failed write is reported where `writing` is awaited next, not as an unhandled rejection meanwhile.
      writing.catch(() => undefined);
      bytes += frame.length;
    });
    await writing;
  } finally {
    source.destroy();
    await writing.catch(() => undefined);
    await fh?.close();
  }
  await syncLater(env, file);
  if (t.sha256 !== undefined && hash.digest('hex') !== t.sha256) throw mismatch(t.path, t.source.object);
  return { bytes };
}

/**
 * Hands each chunk of a stream to `fn` as it was pushed, the stream paused until `fn` is done. (An async iterator
 * would read whatever is buffered as one chunk, copying pooled frames into a new buffer.)
 */
function eachChunk(stream: Readable, fn: (chunk: Buffer) => Promise<void>): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.on('data', (chunk: Buffer) => {
      stream.pause();
      fn(chunk).then(() => stream.resume(), (e: unknown) => stream.destroy(e as Error));
    });
    stream.once('end', resolve);
    stream.once('error', reject);
  });
}

/** Writes all of `buf` at `position`. */
async function writeAll(fh: FileHandle, buf: Buffer, position: number): Promise<void> {
  for (let done = 0; done < buf.length;) done += (await fh.write(buf, done, buf.length - done, position + done)).bytesWritten;
}

/** A source's decoded bytes as chunks: a stream for an object of its own, one buffer for a bundle slice. */
async function* decoded(env: Env, s: Source): AsyncGenerator<Buffer> {
  if (s.offset !== undefined) {
    yield await slice(env, s);
    return;
  }
  // An early return (a base longer than the file) must close the object too, not only the decoder.
  const source = await env.storage.read(s.object);
  try {
    for await (const chunk of source.pipe(decoder(codec(env, s)))) yield chunk as Buffer;
  } finally {
    source.destroy();
  }
}

async function restoreMerged(env: Env, t: Extract<RestoreTask, { kind: 'merge' }>): Promise<RestoreResult> {
  const file = path.join(env.dir, t.path);
  const fh = await open(file, 'w', t.mode);
  const hash = t.sha256 === undefined ? undefined : createHash('sha256');
  try {
    const deltas = t.deltas.map((d) => new DeltaSource(decoded(env, d), `${d.object} (${t.path})`, d.deltaSha256));
    await mergeDeltas(fh, t.size, t.base === undefined ? undefined : decoded(env, t.base), deltas, (bytes) => hash?.update(bytes));
  } finally {
    await fh.close();
  }
  if (hash !== undefined && hash.digest('hex') !== t.sha256) throw mismatch(t.path, 'after applying page deltas');
  await syncLater(env, file);
  return { bytes: t.size };
}

/** Files whose sync may be under way at once. */
const PENDING_SYNCS = 32;

/**
 * Syncs and closes a written file without waiting for it: the next file is written meanwhile, the disk works on this
 * one. The worker's finish waits for every sync, so the restore is durable when it reports success.
 */
async function syncLater(env: Env, file: string): Promise<void> {
  // fsync through another descriptor flushes the file's data all the same.
  const done = open(file, 'r').then((fh) => fh.sync().finally(() => fh.close()));
  done.catch(() => undefined);
  env.syncs.push(done);
  if (env.syncs.length > PENDING_SYNCS) await env.syncs.shift();
}

serveWorker<RestoreWorkerData, RestoreTask, RestoreResult>(async (data) => {
  const env: Env = {
    storage: await openStorage(data.storageSpec),
    key: data.key === undefined ? undefined : Buffer.from(data.key),
    dir: data.dir,
    bundles: new Map(),
    syncs: [],
    frames: framePool(),
  };
  return {
    handle: (task: RestoreTask) => {
      switch (task.kind) {
        case 'bundle':
          return restoreBundle(env, task);
        case 'file':
          return restoreFile(env, task);
        case 'merge':
          return restoreMerged(env, task);
      }
    },
    finish: async () => {
      await Promise.all(env.syncs);
      return undefined;
    },
  };
});
