// Copies a changed relation file as pages over its version in the reference backup: pages found by their LSN (the
// whole file is read), or the blocks WAL records name (only those are read).
import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import type { Lsn } from '../model/lsn.js';
import type { ChecksumError, FileEntry, FileStore } from './backup-manifest.js';
import { encodeBuffer } from './codec/codec.js';
import { type Base, type CopyEnv, type CopyResult, type CopyTask, checkPages, objectSink, readChunks, sameAs } from './copy-io.js';
import { DeltaWriter, PAGE_SIZE } from './page-delta.js';
import { pageIsNew, pageLsn } from './page.js';

/** A delta that grows past this is streamed to its own object instead of kept for a bundle. */
const DELTA_BUFFER = 4 * 1024 * 1024;
/** Unchanged blocks read through between two changed ones rather than reading them apart (64 KiB). */
const GAP_PAGES = 8;
/** Blocks per read of changed blocks (256 KiB), and reads under way at once per file. */
const SPAN_PAGES = 32;
const READS_IN_FLIGHT = 8;

type Ref = { entry: FileEntry; label: string };

/** A delta being written: kept in memory while small (it goes into a bundle), streamed to its own object once large. */
class DeltaOut {
  private readonly delta = new DeltaWriter();
  private readonly hash = createHash('sha256');
  private held: Buffer[] = [];
  private heldBytes = 0;
  private stream: ReturnType<typeof objectSink> | undefined;

  constructor(private readonly env: CopyEnv, private readonly object: string) {
    this.hash.update(this.delta.header());
    this.held.push(this.delta.header());
  }

  get pages(): number {
    return this.delta.pages;
  }

  /** Adds the page at `offset` of `buf`; the buffer may be reused once this resolves. */
  async page(block: number, buf: Buffer, offset: number): Promise<void> {
    await this.emit(this.delta.page(block, buf, offset));
  }

  /** Adds several pages of `buf` (block, offset) as one copy; the buffer may be reused once this resolves. */
  async pagesOf(buf: Buffer, pages: readonly { block: number; offset: number }[]): Promise<void> {
    if (pages.length > 0) await this.emit([Buffer.concat(pages.flatMap((p) => this.delta.page(p.block, buf, p.offset)))], false);
  }

  abort(e: unknown): void {
    this.stream?.sink.destroy(e as Error);
  }

  /** Ends the delta with the file's size; the store says where it went. */
  async finish(size: number, ref: Ref): Promise<FileStore> {
    await this.emit([this.delta.trailer(size)]);
    const common = { kind: 'delta' as const, base: ref.label, pages: this.delta.pages, deltaSha256: this.hash.digest('hex') };
    if (this.stream !== undefined) {
      this.stream.sink.end();
      return { ...common, object: this.object, storedSize: await this.stream.done };
    }
    const encoded = await encodeBuffer(this.env.codec, Buffer.concat(this.held));
    return { ...common, ...(await this.env.bundle.add(encoded)), storedSize: encoded.length };
  }

  /** `reused`: the parts are views of a buffer the caller reuses (else they are its own copies). */
  private async emit(parts: Buffer[], reused = true): Promise<void> {
    for (const p of parts) this.hash.update(p);
    if (this.stream === undefined) {
      // Pages point into the read buffer, which the next read overwrites: keep copies.
      this.held.push(...(reused ? parts.map((p) => Buffer.from(p)) : parts));
      this.heldBytes += parts.reduce((n, p) => n + p.length, 0);
      if (this.heldBytes < DELTA_BUFFER) return;
      this.stream = objectSink(this.env, this.object);
      parts = this.held;
      this.held = [];
    }
    for (const p of parts) await this.stream.write(p);
  }
}

const deltaObject = (env: CopyEnv, task: CopyTask): string => `${env.dir}data/${task.rel}.delta${env.ext}`;

/** Reads a changed relation file page by page and keeps the pages changed since the reference backup started. */
export async function copyDelta(task: CopyTask, ref: Ref, since: Lsn, env: CopyEnv, fh: FileHandle, base: Base): Promise<CopyResult> {
  const refBlocks = Math.floor(ref.entry.size / PAGE_SIZE);
  const out = new DeltaOut(env, deltaObject(env, task));
  const hash = createHash('sha256');
  const checksumErrors: ChecksumError[] = [];
  let size = 0;
  try {
    for await (const chunk of readChunks(fh)) {
      hash.update(chunk);
      const firstBlock = size / PAGE_SIZE;
      for (let off = 0; off + PAGE_SIZE <= chunk.length; off += PAGE_SIZE) {
        const block = firstBlock + off / PAGE_SIZE;
        if (block < refBlocks && !pageIsNew(chunk, off) && pageLsn(chunk, off) < since) continue;
        // Only the pages stored are checked: the others were checked when an earlier backup stored them.
        checksumErrors.push(...(await checkPages(task, env, fh, chunk.subarray(off, off + PAGE_SIZE), size + off)));
        await out.page(block, chunk, off);
      }
      size += chunk.length;
    }
    const entry = { ...base, size, sha256: hash.digest('hex') };
    if (out.pages === 0 && size === ref.entry.size) return { entry: { ...entry, store: sameAs(ref) }, readBytes: size, checksumErrors };
    return { entry: { ...entry, store: await out.finish(size, ref) }, readBytes: size, checksumErrors };
  } catch (e) {
    out.abort(e);
    throw e;
  }
}

/**
 * Reads only the blocks WAL records changed since the reference backup started, and every block past the
 * reference's size. The file is not read whole, so its entry has no SHA-256 (unless nothing changed).
 */
export async function copyBlocks(task: CopyTask, ref: Ref, changed: readonly number[], env: CopyEnv, fh: FileHandle, base: Base): Promise<CopyResult> {
  const size = (await fh.stat()).size;
  const reads = blockReads(changed, size, ref.entry.size);
  if (reads.length === 0 && size === ref.entry.size) {
    return { entry: { ...base, size, ...(ref.entry.sha256 === undefined ? {} : { sha256: ref.entry.sha256 }), store: sameAs(ref) }, readBytes: 0, checksumErrors: [] };
  }
  const out = new DeltaOut(env, deltaObject(env, task));
  const checksumErrors: ChecksumError[] = [];
  let readBytes = 0;
  const take = async (span: Span, buf: Buffer, bytesRead: number): Promise<void> => {
    readBytes += bytesRead;
    const pages = span.blocks.map((block) => ({ block, offset: (block - span.first) * PAGE_SIZE })).filter((p) => p.offset + PAGE_SIZE <= bytesRead);
    for (const p of pages) checksumErrors.push(...(await checkPages(task, env, fh, buf.subarray(p.offset, p.offset + PAGE_SIZE), p.block * PAGE_SIZE)));
    await out.pagesOf(buf, pages);
  };
  try {
    await readAhead(fh, reads, take);
    return { entry: { ...base, size, store: await out.finish(size, ref) }, readBytes, checksumErrors };
  } catch (e) {
    out.abort(e);
    throw e;
  }
}

/** The reads of a file copied by its changed blocks: those blocks, and every block past the reference's size. */
export function blockReads(changed: readonly number[], size: number, refSize: number): Span[] {
  const blocks = Math.floor(size / PAGE_SIZE);
  const refBlocks = Math.floor(refSize / PAGE_SIZE);
  return spans([...changed.filter((b) => b < Math.min(blocks, refBlocks)), ...range(refBlocks, blocks)], SPAN_PAGES, GAP_PAGES);
}

export interface Span {
  first: number;
  count: number;
  blocks: number[];
}

/**
 * Reads the spans with READS_IN_FLIGHT reads under way (scattered blocks come from the disk in parallel), handing
 * each to `take` in order; a span's buffer is reused once `take` is done with it.
 */
async function readAhead(fh: FileHandle, all: readonly Span[], take: (span: Span, buf: Buffer, bytesRead: number) => Promise<void>): Promise<void> {
  const buffers = Array.from({ length: Math.min(READS_IN_FLIGHT, all.length) }, () => spanBuffers.pop() ?? Buffer.allocUnsafeSlow(SPAN_PAGES * PAGE_SIZE));
  const inFlight: Promise<{ span: Span; buf: Buffer; bytesRead: number }>[] = [];
  const next = async (): Promise<void> => {
    const r = await (inFlight.shift() as Promise<{ span: Span; buf: Buffer; bytesRead: number }>);
    await take(r.span, r.buf, r.bytesRead);
  };
  try {
    for (const [i, span] of all.entries()) {
      if (inFlight.length === buffers.length) await next();
      const buf = buffers[i % buffers.length] as Buffer;
      inFlight.push(fh.read(buf, 0, span.count * PAGE_SIZE, span.first * PAGE_SIZE).then(({ bytesRead }) => ({ span, buf, bytesRead })));
    }
    while (inFlight.length > 0) await next();
  } finally {
    await Promise.allSettled(inFlight);
    spanBuffers.push(...buffers);
  }
}

/** Span buffers kept for the next file (a worker copies one file at a time). */
const spanBuffers: Buffer[] = [];

const range = (from: number, to: number): number[] => Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);

/**
 * Sorted block numbers grouped into spans read with one call: at most `max` blocks long, and a gap of up to `gap`
 * unwanted blocks is read through (one larger read costs less than two random ones).
 */
export function spans(blocks: readonly number[], max: number, gap: number): Span[] {
  const out: Span[] = [];
  for (const b of blocks) {
    const last = out.at(-1);
    const end = last === undefined ? 0 : last.first + last.count;
    if (last !== undefined && b >= end && b - end <= gap && b - last.first < max) {
      last.count = b - last.first + 1;
      last.blocks.push(b);
    } else {
      out.push({ first: b, count: 1, blocks: [b] });
    }
  }
  return out;
}
