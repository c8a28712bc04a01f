// The stream codec of stored files: plain bytes in 1 MiB blocks, each compressed into one frame, each frame encrypted.
import { PassThrough, Transform, type TransformCallback } from 'node:stream';
import { finished } from 'node:stream/promises';
import { PgpilotError } from '../../base/errors.js';
import { compressChunk, compressExtension, decompressFrame, frameLength, resolveLevel, type CompressType } from './compress.js';
import { Decryptor, Sealer } from './crypt.js';
import { FramePool } from './frame-pool.js';

/** How a stored file is encoded: its compression and, in an encrypted repository, the key. */
export interface CodecOptions {
  compress: { type: CompressType; level: number };
  key: Buffer | undefined;
}

/** Plain bytes per frame: big enough for a good ratio, small enough for bounded memory in encoder and decoder. */
const BLOCK = 1024 * 1024;
const EMPTY: Buffer = Buffer.alloc(0);

/** The extension of files stored with these options: the compression's, then '.enc' when encrypted. */
export function storedExtension(opts: CodecOptions): string {
  return compressExtension(opts.compress.type) + (opts.key === undefined ? '' : '.enc');
}

/** A stream from plain bytes (written in any chunking) to the stored form. */
export function encoder(opts: CodecOptions): Transform {
  if (opts.compress.type === 'none' && opts.key === undefined) return new PassThrough();
  return new Encoder(opts);
}

/** A stream from the stored form back to plain bytes; `what` names the file in errors. */
/** A pool for the frames of this codec (see decoder). */
export const framePool = (): FramePool => new FramePool(BLOCK);

/** `pool`: zstd frames are decoded into its buffers (the reader gives them back). */
export function decoder(opts: CodecOptions, what = 'a stored file', pool?: FramePool): Transform {
  return new Decoder(opts, what, pool);
}

/**
 * The stored form of `buf`: the same frames the encoder stream writes, made without a stream (a backup encodes
 * thousands of small files this way).
 */
export function encodeBuffer(opts: CodecOptions, buf: Buffer): Promise<Buffer> {
  const type = opts.compress.type;
  if (type === 'none' && opts.key === undefined) return Promise.resolve(Buffer.concat([buf]));
  const level = resolveLevel(type, opts.compress.level);
  const sealer = opts.key === undefined ? undefined : new Sealer(opts.key);
  const out: Buffer[] = [];
  // An empty input still gets one (empty) frame, as from the encoder stream.
  if (buf.length === 0 && type !== 'none') out.push(...encodeFrame(type, level, sealer, buf));
  for (let at = 0; at < buf.length; at += BLOCK) out.push(...encodeFrame(type, level, sealer, buf.subarray(at, at + BLOCK)));
  if (sealer !== undefined) out.push(...sealer.end());
  return Promise.resolve(Buffer.concat(out));
}

/** The plain bytes of the stored form `buf`; `what` names it in errors. */
export function decodeBuffer(opts: CodecOptions, buf: Buffer, what: string): Promise<Buffer> {
  return runThrough(decoder(opts, what), buf);
}

/** One block's stored form: its compressed frame, sealed into records in an encrypted repository. */
function encodeFrame(type: CompressType, level: number, sealer: Sealer | undefined, block: Buffer): Buffer[] {
  const frame = compressChunk(type, level, block);
  return sealer === undefined ? [frame] : sealer.seal(frame);
}

async function runThrough(stream: Transform, input: Buffer): Promise<Buffer> {
  const out: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => out.push(chunk));
  stream.end(input);
  await finished(stream);
  return Buffer.concat(out);
}

class Encoder extends Transform {
  private readonly type: CompressType;
  private readonly level: number;
  private readonly sealer: Sealer | undefined;
  /** Reused for every block: each block is compressed or sealed (both copy it) before the next one fills. */
  private readonly block = Buffer.allocUnsafe(BLOCK);
  private filled = 0;
  private wroteFrame = false;

  constructor(opts: CodecOptions) {
    super();
    this.type = opts.compress.type;
    this.level = resolveLevel(this.type, opts.compress.level);
    this.sealer = opts.key === undefined ? undefined : new Sealer(opts.key);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    try {
      let at = 0;
      while (at < chunk.length) {
        if (this.filled === 0 && chunk.length - at >= BLOCK) {
          this.encodeBlock(chunk.subarray(at, at + BLOCK));
          at += BLOCK;
          continue;
        }
        const copied = chunk.copy(this.block, this.filled, at, Math.min(chunk.length, at + BLOCK - this.filled));
        this.filled += copied;
        at += copied;
        if (this.filled === BLOCK) this.encodeBlock(this.block);
      }
    } catch (e) {
      done(e as Error);
      return;
    }
    done();
  }

  override _flush(done: TransformCallback): void {
    try {
      // An empty input still gets one (empty) frame, so that the file is a valid .zst, .lz4 or .gz.
      if (this.filled > 0 || (!this.wroteFrame && this.type !== 'none')) this.encodeBlock(this.block.subarray(0, this.filled));
      if (this.sealer !== undefined) this.pushAll(this.sealer.end());
    } catch (e) {
      done(e as Error);
      return;
    }
    done();
  }

  private encodeBlock(block: Buffer): void {
    const parts = encodeFrame(this.type, this.level, this.sealer, block);
    this.filled = 0;
    this.wroteFrame = true;
    this.pushAll(parts);
  }

  private pushAll(parts: Buffer[]): void {
    for (const part of parts) this.push(part);
  }
}

/**
 * Bytes received and not yet decoded. Views of it stay valid after consume(): it only ever writes past its end or
 * into a new buffer, so frames it hands out (for 'none', the plain data itself) are never overwritten.
 */
class Pending {
  private buf = EMPTY;
  private start = 0;
  private end = 0;
  private owned = false;

  get view(): Buffer {
    return this.buf.subarray(this.start, this.end);
  }

  consume(n: number): void {
    this.start += n;
  }

  append(chunk: Buffer): void {
    if (this.start === this.end) {
      this.buf = chunk;
      this.start = 0;
      this.end = chunk.length;
      this.owned = false;
      return;
    }
    if (!this.owned || this.end + chunk.length > this.buf.length) {
      const length = this.end - this.start;
      const grown = Buffer.allocUnsafe(Math.max(2 * (length + chunk.length), 64 * 1024));
      this.buf.copy(grown, 0, this.start, this.end);
      this.buf = grown;
      this.start = 0;
      this.end = length;
      this.owned = true;
    }
    this.end += chunk.copy(this.buf, this.end);
  }
}

/**
 * Decodes one frame at a time and stops as soon as the reader has enough, resuming from _read (as node:zlib does): a
 * few bytes of zeros that expand to gigabytes still take bounded memory.
 */
class Decoder extends Transform {
  private readonly type: CompressType;
  private readonly decryptor: Decryptor | undefined;
  private readonly pending = new Pending();
  private continuation: (() => void) | undefined;

  constructor(
    opts: CodecOptions,
    private readonly what: string,
    private readonly pool: FramePool | undefined,
  ) {
    super();
    this.type = opts.compress.type;
    this.decryptor = opts.key === undefined ? undefined : new Decryptor(opts.key, what);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.pending.append(chunk);
    this.drain(done);
  }

  override _flush(done: TransformCallback): void {
    this.drain((err) => {
      if (err !== undefined) {
        done(err);
        return;
      }
      try {
        this.checkEnd();
      } catch (e) {
        done(e as Error);
        return;
      }
      done();
    });
  }

  override _read(size: number): void {
    const continuation = this.continuation;
    if (continuation === undefined) {
      super._read(size);
      return;
    }
    this.continuation = undefined;
    continuation();
    // The drain finished: hand over to Transform, which releases a write waiting on a full buffer.
    if (this.continuation === undefined) super._read(size);
  }

  /** Decodes every whole frame pending, pausing while the reader's buffer is full. */
  private drain(done: (err?: Error) => void): void {
    try {
      for (let frame = this.nextFrame(); frame !== undefined; frame = this.nextFrame()) {
        if (frame.length > 0 && !this.push(frame)) {
          this.continuation = () => this.drain(done);
          return;
        }
      }
    } catch (e) {
      done(e as Error);
      return;
    }
    done();
  }

  /** The plain bytes of the next whole frame (empty for the final record), or undefined until more input comes. */
  private nextFrame(): Buffer | undefined {
    const input = this.pending.view;
    if (this.decryptor === undefined) {
      const length = frameLength(this.type, input, this.what);
      if (length === undefined) return undefined;
      this.pending.consume(length);
      return decompressFrame(this.type, input.subarray(0, length), this.what, this.pool);
    }
    const record = this.decryptor.next(input);
    if (record === undefined) return undefined;
    this.pending.consume(record.used);
    return record.plain.length === 0 ? EMPTY : decompressFrame(this.type, record.plain, this.what, this.pool);
  }

  private checkEnd(): void {
    if (this.decryptor !== undefined) {
      this.decryptor.end();
      return;
    }
    if (this.pending.view.length === 0) return;
    throw new PgpilotError('Corrupt', `${this.what} is truncated: it ends inside a ${this.type} frame`, {
      hint: 'the file was cut short (an interrupted write or copy); restore it from another copy or take a new backup',
    });
  }
}
