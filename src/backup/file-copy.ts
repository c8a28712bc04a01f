// Copies one data-directory file into a backup: unchanged (same as the reference), small into a bundle, large whole
// into its own object, or as changed pages (delta-copy.ts).
import { createHash } from 'node:crypto';
import { type FileHandle, open } from 'node:fs/promises';
import type { ChecksumError, FileStore } from './backup-manifest.js';
import { encodeBuffer } from './codec/codec.js';
import { type Base, type CopyEnv, type CopyResult, type CopyTask, checkPages, objectSink, readChunks, sameAs, withSha } from './copy-io.js';
import { copyBlocks, copyDelta } from './delta-copy.js';

/** Files up to this size are read whole and packed into bundles. */
export const SMALL_FILE = 256 * 1024;

/** Copies a file; undefined when it vanished meanwhile (PostgreSQL dropped it; WAL replay accounts for that). */
export async function copyFile(task: CopyTask, env: CopyEnv): Promise<CopyResult | undefined> {
  const base = { path: task.rel, mode: task.mode, mtimeMs: task.mtimeMs };
  const unchanged = unchangedByTime(task, env);
  if (unchanged !== undefined) return { entry: { ...base, size: task.size, ...withSha(unchanged.sha256), store: unchanged.store }, readBytes: 0, checksumErrors: [] };
  let fh: FileHandle;
  try {
    fh = await open(task.abs, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    if (task.size <= SMALL_FILE) return await copySmall(task, env, fh, base);
    if (task.kind === 'relation' && task.ref !== undefined && task.blocks !== undefined) return await copyBlocks(task, task.ref, task.blocks, env, fh, base);
    if (task.kind === 'relation' && task.ref !== undefined && env.refStartLsn !== undefined) return await copyDelta(task, task.ref, env.refStartLsn, env, fh, base);
    return await copyWhole(task, env, fh, base);
  } finally {
    await fh.close();
  }
}

/** Same size and not modified since the reference backup started: the reference's version is this file. */
function unchangedByTime(task: CopyTask, env: CopyEnv): { sha256: string | undefined; store: FileStore } | undefined {
  const ref = task.ref;
  if (ref === undefined || env.refStartMs === undefined) return undefined;
  if (ref.entry.size !== task.size || ref.entry.mtimeMs !== task.mtimeMs) return undefined;
  // A margin for coarse file-system timestamps: a file touched around the reference's start is read again.
  if (task.mtimeMs >= env.refStartMs - 2000) return undefined;
  return { sha256: ref.entry.sha256, store: sameAs(ref) };
}

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

