// PostgreSQL 15 data page helpers on 8 KiB blocks: header fields, pg_checksum_page and page verification.
import { assert } from '../base/errors.js';
import type { Lsn } from '../model/lsn.js';

/** Bytes in a page (BLCKSZ). */
export const pageSize = 8192;
/** Blocks in one relation segment file (RELSEG_SIZE: 1 GiB / BLCKSZ). */
export const blocksPerSegment = 131072;

/** pd_checksum's byte offset in PageHeaderData (after pd_lsn). */
const checksumOffset = 8;
/** pd_upper's byte offset in PageHeaderData. */
const upperOffset = 14;

const nSums = 32;
const fnvPrime = 16777619;
/** checksumBaseOffsets from src/include/storage/checksum_impl.h. */
const checksumBaseOffsets = [
  0x5b1f36e9, 0xb8525960, 0x02ab50aa, 0x1de66d2a, 0x79ff467a, 0x9bb9f8a3, 0x217e7cd2, 0x83e13d2c, 0xf8d4474f,
  0xe39eb970, 0x42c6ae16, 0x993216fa, 0x7b093b5d, 0x98daff3c, 0xf718902a, 0x0b1c9cdb, 0xe58f764b, 0x187636bc,
  0x5d7b3bb1, 0xe73de7de, 0x92bec979, 0xcca6c0b2, 0x304a0979, 0x85aa43d4, 0x783125bb, 0x6ca8eaa2, 0xe407eac6,
  0x4b5cfc3e, 0x9fbf8c76, 0x15ca20be, 0xf2ca9fd3, 0x959bd756,
];

function checkBounds(buf: Buffer, offset: number): void {
  assert(offset >= 0 && offset + pageSize <= buf.length, `page at ${offset} overruns a ${buf.length}-byte buffer`);
}

/** pd_lsn: the LSN of the last WAL record that changed the page (xlogid, then xrecoff, little-endian). */
export function pageLsn(buf: Buffer, offset = 0): Lsn {
  checkBounds(buf, offset);
  return (BigInt(buf.readUInt32LE(offset)) << 32n) | BigInt(buf.readUInt32LE(offset + 4));
}

/** pd_checksum as stored in the page. */
export function pageStoredChecksum(buf: Buffer, offset = 0): number {
  checkBounds(buf, offset);
  return buf.readUInt16LE(offset + checksumOffset);
}

/** PageIsNew: pd_upper is zero, the page was never initialized (and is not checksummed). */
export function pageIsNew(buf: Buffer, offset = 0): boolean {
  checkBounds(buf, offset);
  return buf.readUInt16LE(offset + upperOffset) === 0;
}

/** Every byte of the page is zero (an extended but never written block). */
export function pageIsZero(buf: Buffer, offset = 0): boolean {
  checkBounds(buf, offset);
  for (let i = offset; i < offset + pageSize; i += 4) {
    if (buf.readUInt32LE(i) !== 0) return false;
  }
  return true;
}

const words = pageSize / 4;
const sums = new Uint32Array(nSums);
const scratch = new Uint32Array(words);

/**
 * pg_checksum_page: the checksum PostgreSQL stores for the page at relation block `blockNo`. The page is 32 columns of
 * little-endian uint32 words, column j folding into sums[j]; it is read through a Uint32Array (a copy when the page is
 * not 4-byte aligned), which assumes a little-endian host like PostgreSQL's own on-disk format here.
 */
export function pageChecksum(buf: Buffer, offset: number, blockNo: number): number {
  checkBounds(buf, offset);
  assert(Number.isInteger(blockNo) && blockNo >= 0 && blockNo <= 0xffffffff, `bad block number ${blockNo}`);
  const start = buf.byteOffset + offset;
  let page: Uint32Array;
  if (start % 4 === 0) page = new Uint32Array(buf.buffer, start, words);
  else {
    new Uint8Array(scratch.buffer).set(buf.subarray(offset, offset + pageSize));
    page = scratch;
  }
  sums.set(checksumBaseOffsets);
  for (let row = 0; row < words; row += nSums) {
    for (let j = 0; j < nSums; j++) {
      let value = page[row + j] as number;
      // pd_checksum (bytes 8-9, the low half of word 2) counts as zero.
      if (row === 0 && j === checksumOffset / 4) value &= 0xffff0000;
      const tmp = ((sums[j] as number) ^ value) >>> 0;
      sums[j] = Math.imul(tmp, fnvPrime) ^ (tmp >>> 17);
    }
  }
  // Two rounds of zeros to mix the last values, then xor-fold.
  let result = 0;
  for (let j = 0; j < nSums; j++) {
    for (let round = 0; round < 2; round++) {
      const tmp = sums[j] as number;
      sums[j] = Math.imul(tmp, fnvPrime) ^ (tmp >>> 17);
    }
    result ^= sums[j] as number;
  }
  return (((result ^ blockNo) >>> 0) % 65535) + 1;
}

export type PageVerdict = 'ok' | 'new' | { bad: { expected: number; found: number } };

/** Checks a page like PostgreSQL: new (and all-zero) pages carry no checksum and are not checked. */
export function verifyPage(buf: Buffer, offset: number, blockNo: number): PageVerdict {
  if (pageIsNew(buf, offset)) return 'new';
  const expected = pageChecksum(buf, offset, blockNo);
  const found = pageStoredChecksum(buf, offset);
  return expected === found ? 'ok' : { bad: { expected, found } };
}

/** The segment number of a relation file: 0 for `16384` or `16384_vm`, k for `16384.k` (a path is fine too). */
export function relationSegmentNumber(fileName: string): number {
  const m = /(?:^|\/)\d+(?:_[a-z]+)?(?:\.(\d+))?$/.exec(fileName);
  assert(m !== null, `not a relation file name: ${fileName}`);
  return m[1] === undefined ? 0 : Number(m[1]);
}

/** The relation block number of block `index` of relation file `fileName` (what the checksum mixes in). */
export function relationBlockNumber(fileName: string, index: number): number {
  return relationSegmentNumber(fileName) * blocksPerSegment + index;
}
