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

/** Parses a delta incrementally: feed decoded chunks, get pages; `finish()` returns the file's new size. */
export class DeltaReader {
  private pending: Buffer = Buffer.alloc(0);
  private headerSeen = false;
  private newSize: number | undefined;

  constructor(private readonly what: string) {}

  push(chunk: Buffer): DeltaPage[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const out: DeltaPage[] = [];
    if (!this.headerSeen) {
      if (this.pending.length < MAGIC.length) return out;
      if (!this.pending.subarray(0, MAGIC.length).equals(MAGIC)) throw this.corrupt('bad header');
      this.pending = this.pending.subarray(MAGIC.length);
      this.headerSeen = true;
    }
    let at = 0;
    while (this.newSize === undefined && this.pending.length - at >= 4) {
      const block = this.pending.readUInt32BE(at);
      if (block === TRAILER_MARK) {
        if (this.pending.length - at < 12) break;
        this.newSize = Number(this.pending.readBigUInt64BE(at + 4));
        at += 12;
        break;
      }
      if (this.pending.length - at < RECORD) break;
      out.push({ block, page: Buffer.from(this.pending.subarray(at + 4, at + RECORD)) });
      at += RECORD;
    }
    this.pending = this.pending.subarray(at);
    return out;
  }

  finish(): number {
    if (this.newSize === undefined || this.pending.length !== 0) throw this.corrupt('truncated or trailing data');
    return this.newSize;
  }

  private corrupt(why: string): PgpilotError {
    return new PgpilotError('Corrupt', `page delta ${this.what} is damaged: ${why}`);
  }
}
