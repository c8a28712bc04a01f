// Compression of stored files: one standalone frame per block (zstd frame, lz4 frame, gzip member) and frame boundaries.
import { gunzipSync, gzipSync } from 'node:zlib';
import { compressFrameSync, decompressFrameSync } from 'lz4-napi';
import zstd from 'zstd-napi/binding.js';
import { PgpilotError, assert, errorMessage } from '../../base/errors.js';
import type { FramePool } from './frame-pool.js';

export type CompressType = 'zstd' | 'lz4' | 'gzip' | 'none';

/**
 * The most bytes one frame may hold, plain or compressed. The codec writes frames of 1 MiB of plain data; the decoder
 * refuses bigger ones, which bounds its memory even on a damaged or hostile file.
 */
export const FRAME_LIMIT = 4 * 1024 * 1024;

interface LevelRange {
  min: number;
  max: number;
  /** What level 0 (the manifest's default) means. */
  standard: number;
  note: string;
}

const LEVELS: Record<CompressType, LevelRange> = {
  zstd: { min: 1, max: 19, standard: 1, note: '' },
  lz4: { min: 1, max: 1, standard: 1, note: '; lz4 has only its fast level here, use zstd for a better ratio' },
  gzip: { min: 1, max: 9, standard: 6, note: '' },
  none: { min: 0, max: 0, standard: 0, note: '; no compression takes no level' },
};

const EXTENSIONS: Record<CompressType, string> = { zstd: '.zst', lz4: '.lz4', gzip: '.gz', none: '' };

/** The file name extension of a compression type ('' for none). */
export function compressExtension(type: CompressType): string {
  return EXTENSIONS[type];
}

/** The level to compress at: 0 means the type's default; anything out of the type's range is a Config error. */
export function resolveLevel(type: CompressType, level: number): number {
  const range = LEVELS[type];
  if (level === 0) return range.standard;
  if (Number.isInteger(level) && level >= range.min && level <= range.max) return level;
  const allowed = range.min === range.max ? `${range.min}` : `${range.min} to ${range.max}`;
  throw new PgpilotError('Config', `compression level ${level} is out of range for ${type} (${allowed})`, {
    hint: `set spec.backup.repos[].compress.level to ${allowed}, or 0 for the default${range.note}`,
  });
}

/** Compresses `buf` (at most FRAME_LIMIT bytes) into one standalone frame; 'none' returns `buf` itself. */
export function compressChunk(type: CompressType, level: number, buf: Buffer): Buffer {
  assert(buf.length <= FRAME_LIMIT, `a frame of ${buf.length} bytes is over the ${FRAME_LIMIT} limit`);
  const resolved = resolveLevel(type, level);
  switch (type) {
    case 'zstd':
      return zstdFrame(resolved, buf);
    case 'lz4':
      return compressFrameSync(buf, { contentChecksum: true });
    case 'gzip':
      return gzipMember(resolved, buf);
    case 'none':
      return buf;
  }
}

/**
 * The length of the whole frame at the start of `buf`, or undefined while it is incomplete. Throws Corrupt when `buf`
 * does not start with a frame of this type as the codec writes it. For 'none' every byte available is one frame.
 */
export function frameLength(type: CompressType, buf: Buffer, what: string): number | undefined {
  switch (type) {
    case 'zstd':
      return zstdFrameLength(buf, what);
    case 'lz4':
      return lz4FrameLength(buf, what);
    case 'gzip':
      return gzipMemberLength(buf, what);
    case 'none':
      return buf.length > 0 ? buf.length : undefined;
  }
}

/** Decompresses one whole frame (as cut by frameLength or stored in one encrypted record); 'none' returns it as is. */
export function decompressFrame(type: CompressType, frame: Buffer, what: string, pool?: FramePool): Buffer {
  try {
    switch (type) {
      case 'zstd':
        return zstdDecompress(frame, what, pool);
      case 'lz4':
        return decompressFrameSync(frame);
      case 'gzip':
        return gunzipSync(frame, { maxOutputLength: FRAME_LIMIT });
      case 'none':
        return frame;
    }
  } catch (e) {
    if (e instanceof PgpilotError) throw e;
    throw corrupt(what, errorMessage(e), e);
  }
}

function corrupt(what: string, detail: string, cause?: unknown): PgpilotError {
  return new PgpilotError('Corrupt', `cannot decompress ${what}: ${detail}`, {
    hint: 'the file is damaged, or was not written by pgpilot with this compression type',
    cause,
  });
}

// zstd: one reusable context per level and one scratch output buffer, so a frame costs one copy of its output.

const zstdContexts = new Map<number, zstd.CCtx>();
let zstdScratch = Buffer.alloc(0);
const zstdDecompressor = new zstd.DCtx();
const ZSTD_MAGIC = 0xfd2fb528;

function zstdFrame(level: number, buf: Buffer): Buffer {
  let cctx = zstdContexts.get(level);
  if (cctx === undefined) {
    cctx = new zstd.CCtx();
    cctx.setParameter(zstd.CParameter.compressionLevel, level);
    cctx.setParameter(zstd.CParameter.checksumFlag, 1);
    zstdContexts.set(level, cctx);
  }
  const bound = zstd.compressBound(buf.length);
  if (zstdScratch.length < bound) zstdScratch = Buffer.allocUnsafe(bound);
  const length = cctx.compress2(zstdScratch, buf);
  return Buffer.from(zstdScratch.subarray(0, length));
}

function zstdDecompress(frame: Buffer, what: string, pool: FramePool | undefined): Buffer {
  const size = zstd.getFrameContentSize(frame);
  if (size === null || size > FRAME_LIMIT) throw corrupt(what, `a zstd frame declares ${size ?? 'no'} content size`);
  const out = pool?.take(size) ?? Buffer.allocUnsafe(size);
  const written = zstdDecompressor.decompress(out, frame);
  if (written !== size) throw corrupt(what, `a zstd frame holds ${written} bytes, not the ${size} it declares`);
  return out;
}

/** Walks the zstd frame format (RFC 8878): header, then blocks until the last one, then the optional checksum. */
function zstdFrameLength(buf: Buffer, what: string): number | undefined {
  if (buf.length < 5) return undefined;
  if (buf.readUInt32LE(0) !== ZSTD_MAGIC) throw corrupt(what, 'no zstd frame where one should start');
  const descriptor = buf[4] ?? 0;
  const singleSegment = (descriptor >> 5) & 1;
  const hasChecksum = (descriptor >> 2) & 1;
  const dictionaryIdSize = [0, 1, 2, 4][descriptor & 3] ?? 0;
  const contentSizeSize = [singleSegment, 2, 4, 8][descriptor >> 6] ?? 0;
  let at = 5 + (1 - singleSegment) + dictionaryIdSize + contentSizeSize;
  for (;;) {
    if (buf.length < at + 3) return undefined;
    const block = buf.readUIntLE(at, 3);
    const type = (block >> 1) & 3;
    if (type === 3) throw corrupt(what, 'a zstd block of the reserved type');
    at += 3 + (type === 1 ? 1 : block >>> 3);
    if (at > FRAME_LIMIT) throw corrupt(what, `a zstd frame is over the ${FRAME_LIMIT} byte limit`);
    if ((block & 1) === 1) break;
  }
  at += 4 * hasChecksum;
  return buf.length < at ? undefined : at;
}

// lz4: the frame format (lz4_Frame_format.md); lz4-napi decodes one frame per call, so frames are cut here.

const LZ4_MAGIC = 0x184d2204;

function lz4FrameLength(buf: Buffer, what: string): number | undefined {
  if (buf.length < 7) return undefined;
  if (buf.readUInt32LE(0) !== LZ4_MAGIC) throw corrupt(what, 'no lz4 frame where one should start');
  const flags = buf[4] ?? 0;
  const blockSizeCode = ((buf[5] ?? 0) >> 4) & 7;
  if (flags >> 6 !== 1 || blockSizeCode < 4) throw corrupt(what, 'an lz4 frame header of an unknown version');
  const blockMax = 1 << (2 * blockSizeCode + 8);
  const blockChecksumSize = 4 * ((flags >> 4) & 1);
  let at = 7 + 8 * ((flags >> 3) & 1) + 4 * (flags & 1);
  let content = 0;
  for (;;) {
    if (buf.length < at + 4) return undefined;
    const size = buf.readUInt32LE(at);
    at += 4;
    if (size === 0) break;
    const stored = size & 0x7fffffff;
    content += blockMax;
    if (stored > blockMax || content > FRAME_LIMIT) throw corrupt(what, `an lz4 frame is over the ${FRAME_LIMIT} byte limit`);
    at += stored + blockChecksumSize;
  }
  at += 4 * ((flags >> 2) & 1);
  return buf.length < at ? undefined : at;
}

// gzip: a member's length is not in the standard header, so each member carries it in an extra field (RFC 1952 FEXTRA,
// subfield 'PG', like BGZF's 'BC'); gunzip ignores it.

const GZIP_HEADER = 10;
const GZIP_EXTRA = 10; // XLEN, then SI1 SI2 LEN and the u32 member length
const GZIP_FEXTRA = 4;

function gzipMember(level: number, buf: Buffer): Buffer {
  const plain = gzipSync(buf, { level });
  assert(plain[3] === 0, 'zlib wrote gzip header flags');
  const member = Buffer.allocUnsafe(plain.length + GZIP_EXTRA);
  plain.copy(member, 0, 0, GZIP_HEADER);
  member[3] = GZIP_FEXTRA;
  member.writeUInt16LE(GZIP_EXTRA - 2, 10);
  member.write('PG', 12, 'latin1');
  member.writeUInt16LE(4, 14);
  member.writeUInt32LE(member.length, 16);
  plain.copy(member, GZIP_HEADER + GZIP_EXTRA, GZIP_HEADER);
  return member;
}

function gzipMemberLength(buf: Buffer, what: string): number | undefined {
  if (buf.length < GZIP_HEADER + GZIP_EXTRA) return undefined;
  const ours =
    buf.readUInt32BE(0) === 0x1f8b0804 &&
    buf.readUInt16LE(10) === GZIP_EXTRA - 2 &&
    buf.toString('latin1', 12, 14) === 'PG' &&
    buf.readUInt16LE(14) === 4;
  if (!ours) throw corrupt(what, 'no gzip member with its length where one should start');
  const length = buf.readUInt32LE(16);
  if (length < GZIP_HEADER + GZIP_EXTRA + 8 || length > FRAME_LIMIT) throw corrupt(what, `a gzip member declares ${length} bytes`);
  return buf.length < length ? undefined : length;
}
