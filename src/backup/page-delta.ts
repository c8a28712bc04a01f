// The page-delta format of an incremental relation file: changed 8 KiB pages by block number, then the new size.
import { PgpilotError } from '../base/errors.js';

export const PAGE_SIZE = 8192;
const MAGIC = Buffer.from('PGPD\x01\x00\x00\x00', 'latin1');
const TRAILER_MARK = 0xffffffff;
const RECORD = 4 + PAGE_SIZE;

/** Builds a delta stream's bytes: the header, one record per page, the trailer. Pure framing, no I/O. */
export class DeltaWriter {
  pages = 0;

  header(): Buffer {
    return MAGIC;
  }

  page(block: number, buf: Buffer, offset: number): Buffer[] {
    const head = Buffer.allocUnsafe(4);
    head.writeUInt32BE(block, 0);
    this.pages += 1;
    return [head, buf.subarray(offset, offset + PAGE_SIZE)];
  }

  trailer(newSize: number): Buffer {
    const t = Buffer.allocUnsafe(12);
    t.writeUInt32BE(TRAILER_MARK, 0);
    t.writeBigUInt64BE(BigInt(newSize), 4);
    return t;
  }
}

export interface DeltaPage {
  block: number;
  page: Buffer;
}

/**
 * Parses a delta incrementally: feed decoded chunks, get pages; `finish()` returns the file's new size. A page is a
 * view of the chunk it came in (no copy): use it before the chunk's buffer is reused. Only a record split between
 * two chunks is copied.
 */
export class DeltaReader {
  private pending: Buffer = Buffer.alloc(0);
  private headerSeen = false;
  private newSize: number | undefined;

  constructor(private readonly what: string) {}

  push(chunk: Buffer): DeltaPage[] {
    const out: DeltaPage[] = [];
    let data = chunk;
    // Complete the unit the previous chunk began, copying only its bytes.
    while (this.pending.length > 0 && data.length > 0) {
      const take = Math.min(this.unitSize(this.pending) - this.pending.length, data.length);
      this.pending = Buffer.concat([this.pending, data.subarray(0, take)]);
      data = data.subarray(take);
      if (this.pending.length >= this.unitSize(this.pending)) this.pending = this.pending.subarray(this.parse(this.pending, out));
    }
    if (this.pending.length > 0) return out;
    const used = this.parse(data, out);
    this.pending = Buffer.from(data.subarray(used));
    return out;
  }

  /** Bytes of the unit (header, record, trailer) `buf` begins with, or as many as it takes to tell which. */
  private unitSize(buf: Buffer): number {
    if (!this.headerSeen) return MAGIC.length;
    if (this.newSize !== undefined) return Infinity;
    if (buf.length < 4) return 4;
    return buf.readUInt32BE(0) === TRAILER_MARK ? 12 : RECORD;
  }

  /** Parses the complete units at the start of `buf` into `out`; returns the bytes used. */
  private parse(buf: Buffer, out: DeltaPage[]): number {
    let at = 0;
    if (!this.headerSeen) {
      if (buf.length < MAGIC.length) return 0;
      if (!buf.subarray(0, MAGIC.length).equals(MAGIC)) throw this.corrupt('bad header');
      this.headerSeen = true;
      at = MAGIC.length;
    }
    while (this.newSize === undefined && buf.length - at >= 4) {
      const block = buf.readUInt32BE(at);
      if (block === TRAILER_MARK) {
        if (buf.length - at < 12) break;
        this.newSize = Number(buf.readBigUInt64BE(at + 4));
        at += 12;
        break;
      }
      if (buf.length - at < RECORD) break;
      out.push({ block, page: buf.subarray(at + 4, at + RECORD) });
      at += RECORD;
    }
    return at;
  }

  finish(): number {
    if (this.newSize === undefined || this.pending.length !== 0) throw this.corrupt('truncated or trailing data');
    return this.newSize;
  }

  private corrupt(why: string): PgpilotError {
    return new PgpilotError('Corrupt', `page delta ${this.what} is damaged: ${why}`);
  }
}
