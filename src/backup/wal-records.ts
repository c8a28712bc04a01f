// Reads PostgreSQL 15 WAL record headers between two LSNs and sums up what they changed: the blocks each record
// references, relations created or truncated, databases created or dropped (pure; segments come from a loader).

/** XLOG_BLCKSZ: WAL page size. */
const WAL_PAGE = 8192;
/** XLOG_PAGE_MAGIC of PostgreSQL 15. */
const PAGE_MAGIC = 0xd110;
const XLP_FIRST_IS_CONTRECORD = 0x0001;
const XLP_LONG_HEADER = 0x0002;
const SHORT_PAGE_HEADER = 24;
const LONG_PAGE_HEADER = 40;
const RECORD_HEADER = 24;
const MAX_BLOCK_ID = 32;
const BLOCK_ID_DATA_SHORT = 255;
const BLOCK_ID_DATA_LONG = 254;
const BLOCK_ID_ORIGIN = 253;
const BLOCK_ID_TOPLEVEL_XID = 252;
const BKPBLOCK_FORK_MASK = 0x0f;
const BKPBLOCK_HAS_IMAGE = 0x10;
const BKPBLOCK_SAME_REL = 0x80;
const BKPIMAGE_HAS_HOLE = 0x01;
/** BKPIMAGE_COMPRESS_PGLZ | _LZ4 | _ZSTD. */
const BKPIMAGE_COMPRESSED = 0x04 | 0x08 | 0x10;
const RM_XLOG_ID = 0;
const RM_SMGR_ID = 2;
const RM_DBASE_ID = 4;
const XLOG_SWITCH = 0x40;
const XLOG_SMGR_CREATE = 0x10;
const XLOG_SMGR_TRUNCATE = 0x20;
const SMGR_TRUNCATE_HEAP = 0x0001;
/** Highest built-in resource manager id of PostgreSQL 15 (custom ones are 128 and up). */
const RM_MAX_BUILTIN = 21;

/** A relation fork: tablespace, database and relfilenode OIDs, and the fork number (0 main, 1 fsm, 2 vm, 3 init). */
export interface RelFork {
  spc: number;
  db: number;
  rel: number;
  fork: number;
}

export const relForkKey = (r: RelFork): string => `${r.spc}/${r.db}/${r.rel}/${r.fork}`;

export interface WalChanges {
  /** Blocks referenced by some record, per relation fork (relForkKey). */
  blocks: Map<string, Set<number>>;
  /** Per relation fork, the lowest block from which everything may have changed (a truncation, or 0 for a create). */
  from: Map<string, number>;
  /** Databases created or dropped: their files cannot be followed block by block. */
  databases: Set<number>;
  /** Records read. */
  records: number;
}

/** The WAL is not what a scan expects (missing, recycled, or not PostgreSQL 15's format). */
export class WalScanError extends Error {}

/** The scan needs WAL of a segment it was not given. */
class WalNotLoaded extends WalScanError {}

/** Byte access to the WAL by LSN, skipping page headers (checked: a recycled page has another address). */
class Cursor {
  pos: number;
  /** The segment the cursor was last in, and its buffer: most reads stay inside one page of one segment. */
  private segNo = -1;
  private buf: Buffer | undefined;
  /**
   * `openEnd`: no WAL is loaded from there on; a record body that runs past it is skipped unread (its headers must be
   * before it).
   */
  constructor(private readonly segments: ReadonlyMap<number, Buffer>, private readonly segSize: number, start: number, private readonly openEnd = Infinity) {
    this.pos = start;
  }

  /** Segment `segNo`'s buffer is about to hold another segment. */
  forget(segNo: number): void {
    if (segNo === this.segNo) this.segNo = -1;
  }

  /** The byte at `p`'s offset in its segment's buffer. */
  private offset(p: number): number {
    const segNo = Math.floor(p / this.segSize);
    if (segNo !== this.segNo) {
      const b = this.segments.get(segNo);
      if (b === undefined) throw new WalNotLoaded(`WAL segment ${segNo} is not loaded at ${lsnText(p)}`);
      this.buf = b;
      this.segNo = segNo;
    }
    return p - segNo * this.segSize;
  }

  private enterPage(): void {
    if (this.pos % WAL_PAGE !== 0) return;
    const o = this.offset(this.pos);
    const b = this.buf as Buffer;
    const magic = b.readUInt16LE(o);
    const info = b.readUInt16LE(o + 2);
    const address = b.readUInt32LE(o + 8) + b.readUInt32LE(o + 12) * 2 ** 32;
    if (magic !== PAGE_MAGIC || address !== this.pos) throw new WalScanError(`no valid WAL page at ${lsnText(this.pos)} (magic ${magic.toString(16)})`);
    this.pos += (info & XLP_LONG_HEADER) !== 0 ? LONG_PAGE_HEADER : SHORT_PAGE_HEADER;
  }

  u8(): number {
    this.enterPage();
    const o = this.offset(this.pos);
    this.pos += 1;
    return (this.buf as Buffer)[o] as number;
  }

  u16(): number {
    return this.u8() | (this.u8() << 8);
  }

  u32(): number {
    const inPage = this.pos % WAL_PAGE;
    if (inPage !== 0 && inPage <= WAL_PAGE - 4) {
      // The four bytes lie inside this page: no header to step over.
      const o = this.offset(this.pos);
      this.pos += 4;
      return (this.buf as Buffer).readUInt32LE(o);
    }
    return (this.u8() | (this.u8() << 8) | (this.u8() << 16) | (this.u8() << 24)) >>> 0;
  }

  skip(n: number): void {
    while (n > 0) {
      if (this.pos >= this.openEnd) {
        this.pos += n;
        return;
      }
      this.enterPage();
      const take = Math.min(n, WAL_PAGE - (this.pos % WAL_PAGE));
      this.pos += take;
      n -= take;
    }
  }
}

const lsnText = (p: number): string => `${Math.floor(p / 2 ** 32).toString(16).toUpperCase()}/${(p % 2 ** 32).toString(16).toUpperCase()}`;

/**
 * Fills `into` (one segment's size) with segment `segNo`; false when there is no such segment. Buffers are reused
 * from segment to segment: a scan keeps at most three, whatever the amount of WAL.
 */
export type SegmentLoader = (segNo: number, into: Buffer) => Promise<boolean>;

export interface ScanOptions {
  /** Default 16 MiB. */
  segSize?: number;
  /** A segment already in memory. */
  loaded?: { segNo: number; buf: Buffer };
  /** No WAL is read from here on: the last record's body may run past it (see Cursor). */
  openEnd?: number;
}

/**
 * Reads every record from `start` (a record's first byte, e.g. a backup's start LSN) until one starts at or after
 * `end`. A record may run into the segment after `end`'s, which may not exist yet: a record that needs it then fails
 * the scan.
 */
export async function scanWal(start: number, end: number, load: SegmentLoader, o: ScanOptions = {}): Promise<WalChanges> {
  const segSize = o.segSize ?? 16 * 1024 * 1024;
  const changes = noChanges();
  const segments = new Map<number, Buffer>(o.loaded === undefined ? [] : [[o.loaded.segNo, o.loaded.buf]]);
  const spare: Buffer[] = [];
  const lastSeg = Math.floor((end - 1) / segSize);
  const cursor = new Cursor(segments, segSize, start, o.openEnd);
  const fill = async (segNo: number): Promise<boolean> => {
    const buf = spare.pop() ?? Buffer.allocUnsafeSlow(segSize);
    if (await load(segNo, buf)) {
      segments.set(segNo, buf);
      return true;
    }
    spare.push(buf);
    return false;
  };
  const need = async (segNo: number): Promise<void> => {
    if (!(await fill(segNo))) throw new WalScanError(`WAL segment ${segNo} is missing`);
  };
  let beyond = false;
  for (;;) {
    cursor.pos = Math.ceil(cursor.pos / 8) * 8;
    if (cursor.pos >= end) return changes;
    const seg = Math.floor(cursor.pos / segSize);
    for (const [s, buf] of segments) {
      if (s >= seg) continue;
      segments.delete(s);
      cursor.forget(s);
      spare.push(buf);
    }
    if (!segments.has(seg)) await need(seg);
    if (seg + 1 <= lastSeg && !segments.has(seg + 1)) await need(seg + 1);
    if (seg === lastSeg && !beyond && o.openEnd === undefined) {
      beyond = true;
      await fill(seg + 1).catch(() => false);
    }
    const switched = readRecord(cursor, changes);
    changes.records += 1;
    if (switched) cursor.pos = (Math.floor((cursor.pos - 1) / segSize) + 1) * segSize;
  }
}

const noChanges = (): WalChanges => ({ blocks: new Map(), from: new Map(), databases: new Set(), records: 0 });

/**
 * A part of a scan read on its own: the records from `start` until one starts at or after `end`. With `atBoundary`,
 * `start` is a segment's first byte, and the part begins with the first record that starts in that segment.
 */
export interface ScanPart {
  start: number;
  end: number;
  atBoundary: boolean;
}

/**
 * The scan from `start` to `end` cut at segment boundaries into at most `parts` parts of about as many segments each,
 * to be read side by side (scanPart each, then mergeChanges). A record that crosses a cut belongs to the part before.
 */
export function scanParts(start: number, end: number, parts: number, segSize = 16 * 1024 * 1024): ScanPart[] {
  const first = Math.floor(start / segSize);
  const segments = Math.floor((end - 1) / segSize) - first + 1;
  const n = Math.max(1, Math.min(parts, segments));
  const cuts = Array.from({ length: n - 1 }, (_, i) => (first + Math.round(((i + 1) * segments) / n)) * segSize);
  const starts = [start, ...cuts];
  return starts.map((s, i) => ({ start: s, end: cuts[i] ?? end, atBoundary: i > 0 }));
}

/** Reads one part of a scan (scanParts). */
export async function scanPart(part: ScanPart, load: SegmentLoader, o: ScanOptions = {}): Promise<WalChanges> {
  const segSize = o.segSize ?? 16 * 1024 * 1024;
  if (!part.atBoundary) return scanWal(part.start, part.end, load, o);
  const segNo = part.start / segSize;
  let buf = o.loaded?.segNo === segNo ? o.loaded.buf : undefined;
  if (buf === undefined) {
    buf = Buffer.allocUnsafeSlow(segSize);
    if (!(await load(segNo, buf))) throw new WalScanError(`WAL segment ${segNo} is missing`);
  }
  const first = firstRecordStart(buf, part.start);
  // One record runs through the whole part: the part before reads it.
  if (first === undefined || first >= part.end) return noChanges();
  return scanWal(first, part.end, load, { ...o, loaded: { segNo, buf } });
}

/**
 * What the records that start in one segment changed, read from that segment alone (the WAL archiver does it as it
 * archives): the record that runs on into the next segment counts when its headers are in this one. Undefined when
 * they are not: a scan then reads this segment together with the next.
 */
export async function summarizeSegment(buf: Buffer, segNo: number, segSize = 16 * 1024 * 1024): Promise<WalChanges | undefined> {
  const start = segNo * segSize;
  const none: SegmentLoader = () => Promise.resolve(false);
  try {
    return await scanPart({ start, end: start + segSize, atBoundary: true }, none, { segSize, loaded: { segNo, buf }, openEnd: start + segSize });
  } catch (e) {
    if (e instanceof WalNotLoaded) return undefined;
    throw e;
  }
}

/**
 * Where the first record that starts in a segment begins (`segment` holds the segment that starts at LSN `at`): past
 * the page header, and past the rest of a record begun in an earlier segment (its length is in the page headers).
 * Undefined when no record starts in the segment.
 */
export function firstRecordStart(segment: Buffer, at: number): number | undefined {
  for (let o = 0; o < segment.length; o += WAL_PAGE) {
    const magic = segment.readUInt16LE(o);
    const info = segment.readUInt16LE(o + 2);
    const address = segment.readUInt32LE(o + 8) + segment.readUInt32LE(o + 12) * 2 ** 32;
    if (magic !== PAGE_MAGIC || address !== at + o) throw new WalScanError(`no valid WAL page at ${lsnText(at + o)} (magic ${magic.toString(16)})`);
    const header = (info & XLP_LONG_HEADER) !== 0 ? LONG_PAGE_HEADER : SHORT_PAGE_HEADER;
    if ((info & XLP_FIRST_IS_CONTRECORD) === 0) return at + o + header;
    // xlp_rem_len: what is left of the continued record; it may fill this page and go on into the next.
    const rest = segment.readUInt32LE(o + 16);
    if (header + rest < WAL_PAGE) return at + o + header + Math.ceil(rest / 8) * 8;
  }
  return undefined;
}

/** What several parts of one scan changed, together. */
export function mergeChanges(parts: readonly WalChanges[]): WalChanges {
  const out = noChanges();
  for (const p of parts) {
    for (const [key, blocks] of p.blocks) {
      const set = out.blocks.get(key);
      if (set === undefined) out.blocks.set(key, new Set(blocks));
      else for (const b of blocks) set.add(b);
    }
    for (const [key, block] of p.from) out.from.set(key, Math.min(out.from.get(key) ?? block, block));
    for (const db of p.databases) out.databases.add(db);
    out.records += p.records;
  }
  return out;
}

/** Reads one record at the cursor and notes what it changed; true for a WAL switch (the segment ends there). */
function readRecord(c: Cursor, changes: WalChanges): boolean {
  const at = c.pos;
  const totalLength = c.u32();
  if (totalLength === 0) throw new WalScanError(`the WAL ends at ${lsnText(at)}, before the end of the scan`);
  if (totalLength < RECORD_HEADER || totalLength > 0x3fffffff) throw new WalScanError(`record at ${lsnText(at)} has an impossible length ${totalLength}`);
  c.skip(4 + 8);
  const info = c.u8();
  const rmid = c.u8();
  c.skip(2 + 4);
  if (rmid > RM_MAX_BUILTIN && rmid < 128) throw new WalScanError(`record at ${lsnText(at)} names resource manager ${rmid}`);
  let remaining = totalLength - RECORD_HEADER;
  let dataTotal = 0;
  let mainLength = 0;
  let previous: Omit<RelFork, 'fork'> | undefined;
  while (remaining > dataTotal) {
    const id = c.u8();
    remaining -= 1;
    if (id === BLOCK_ID_DATA_SHORT) {
      mainLength = c.u8();
      remaining -= 1;
      break;
    }
    if (id === BLOCK_ID_DATA_LONG) {
      mainLength = c.u32();
      remaining -= 4;
      break;
    }
    if (id === BLOCK_ID_ORIGIN || id === BLOCK_ID_TOPLEVEL_XID) {
      const n = id === BLOCK_ID_ORIGIN ? 2 : 4;
      c.skip(n);
      remaining -= n;
      continue;
    }
    if (id > MAX_BLOCK_ID) throw new WalScanError(`record at ${lsnText(at)} has block id ${id}`);
    const forkFlags = c.u8();
    dataTotal += c.u16();
    remaining -= 3;
    if ((forkFlags & BKPBLOCK_HAS_IMAGE) !== 0) {
      dataTotal += c.u16();
      c.skip(2);
      const imageInfo = c.u8();
      remaining -= 5;
      if ((imageInfo & BKPIMAGE_COMPRESSED) !== 0 && (imageInfo & BKPIMAGE_HAS_HOLE) !== 0) {
        c.skip(2);
        remaining -= 2;
      }
    }
    if ((forkFlags & BKPBLOCK_SAME_REL) === 0) {
      previous = { spc: c.u32(), db: c.u32(), rel: c.u32() };
      remaining -= 12;
    } else if (previous === undefined) {
      throw new WalScanError(`record at ${lsnText(at)} refers to the previous block's relation, and has none`);
    }
    const block = c.u32();
    remaining -= 4;
    addBlock(changes, { ...previous, fork: forkFlags & BKPBLOCK_FORK_MASK }, block);
  }
  if (remaining !== dataTotal + mainLength) throw new WalScanError(`record at ${lsnText(at)} does not add up (${remaining} bytes left, ${dataTotal + mainLength} announced)`);
  const kind = info & 0xf0;
  if ((rmid === RM_SMGR_ID && (kind === XLOG_SMGR_CREATE || kind === XLOG_SMGR_TRUNCATE)) || rmid === RM_DBASE_ID) {
    c.skip(dataTotal);
    c.skip(mainLength - readMainData(c, rmid, kind, changes));
    return false;
  }
  c.skip(remaining);
  return rmid === RM_XLOG_ID && kind === XLOG_SWITCH;
}

/** Storage and database records: a created relation changed from block 0, a truncated one from its new end. Returns
 * the bytes of main data read. */
function readMainData(c: Cursor, rmid: number, kind: number, changes: WalChanges): number {
  if (rmid === RM_DBASE_ID) {
    changes.databases.add(c.u32());
    return 4;
  }
  if (kind === XLOG_SMGR_CREATE) {
    const rel = { spc: c.u32(), db: c.u32(), rel: c.u32() };
    addFrom(changes, { ...rel, fork: c.u32() }, 0);
    return 16;
  }
  const block = c.u32();
  const rel = { spc: c.u32(), db: c.u32(), rel: c.u32() };
  if ((c.u32() & SMGR_TRUNCATE_HEAP) !== 0) addFrom(changes, { ...rel, fork: 0 }, block);
  return 20;
}

function addBlock(changes: WalChanges, r: RelFork, block: number): void {
  const key = relForkKey(r);
  let set = changes.blocks.get(key);
  if (set === undefined) changes.blocks.set(key, (set = new Set()));
  set.add(block);
}

function addFrom(changes: WalChanges, r: RelFork, block: number): void {
  const key = relForkKey(r);
  changes.from.set(key, Math.min(changes.from.get(key) ?? block, block));
}
