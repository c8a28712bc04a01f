// Summaries of archived WAL segments: what the records of each segment changed, written by the WAL archiver into its
// spool directory as it archives, so that an incremental backup reads a few small files instead of all the WAL since
// the backup before.
import { randomBytes } from 'node:crypto';
import fsp, { open } from 'node:fs/promises';
import path from 'node:path';
import { parseWalFileName } from '../model/wal.js';
import { contentHash } from './wal-archive.js';
import { type WalChanges, summarizeSegment } from './wal-records.js';

const FORMAT = 1;
const SEGMENT_SIZE = 16 * 1024 * 1024;
const SUFFIX = '.summary.json';
/** Summaries kept: 4096 segments of 16 MiB are 64 GiB of WAL; an incremental over more reads the WAL itself. */
const KEPT = 4096;

/** A segment's summary: what its records changed, and the hash of the content they were read from. */
export interface WalSummary {
  hash: string;
  changes: WalChanges;
}

interface SummaryFile {
  format: number;
  wal: string;
  hash: string;
  records: number;
  blocks: [string, number[]][];
  from: [string, number][];
  databases: number[];
}

export const summaryDir = (spoolDir: string): string => path.join(spoolDir, 'wal-summaries');

/**
 * Summarizes segment `walName` (its whole content in `content`, whose archive hash is `hash`) into `dir`; false when
 * the segment cannot be summarized alone (see summarizeSegment). Written under a temporary name, then renamed.
 */
export async function writeSummary(dir: string, walName: string, segNo: number, content: Buffer, hash: string): Promise<boolean> {
  const changes = await summarizeSegment(content, segNo, content.length);
  if (changes === undefined) return false;
  const file: SummaryFile = {
    format: FORMAT,
    wal: walName,
    hash,
    records: changes.records,
    blocks: [...changes.blocks].map(([key, blocks]) => [key, [...blocks]]),
    from: [...changes.from],
    databases: [...changes.databases],
  };
  await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = path.join(dir, `.${walName}.${randomBytes(4).toString('hex')}`);
  await fsp.writeFile(tmp, JSON.stringify(file), { mode: 0o600 });
  await fsp.rename(tmp, path.join(dir, `${walName}${SUFFIX}`));
  return true;
}

/** The summary of `walName`; undefined when there is none or it cannot be read (the WAL is then read instead). */
export async function readSummary(dir: string, walName: string): Promise<WalSummary | undefined> {
  try {
    const file = JSON.parse(await fsp.readFile(path.join(dir, `${walName}${SUFFIX}`), 'utf8')) as SummaryFile;
    if (file.format !== FORMAT || file.wal !== walName || typeof file.hash !== 'string') return undefined;
    return {
      hash: file.hash,
      changes: { blocks: new Map(file.blocks.map(([key, blocks]) => [key, new Set(blocks)])), from: new Map(file.from), databases: new Set(file.databases), records: file.records },
    };
  } catch {
    return undefined;
  }
}

/** Removes the oldest summaries beyond the last KEPT (WAL names sort by timeline, then position). */
export async function pruneSummaries(dir: string, kept = KEPT): Promise<number> {
  const names = (await fsp.readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith(SUFFIX)).sort();
  const old = names.slice(0, Math.max(0, names.length - kept));
  for (const n of old) await fsp.rm(path.join(dir, n), { force: true });
  return old.length;
}

/** Read buffers of segments being summarized, kept for the next. */
const spare: Buffer[] = [];

/**
 * Summarizes the WAL segment file `file` (named `walName`) into `dir`, with the hash its archived copy carries; false
 * for other WAL files, a segment that is gone or not of 16 MiB, or one that cannot be summarized alone.
 */
export async function summarizeFile(dir: string, file: string, walName: string): Promise<boolean> {
  const wal = parseWalFileName(walName);
  if (wal?.kind !== 'segment') return false;
  const buf = spare.pop() ?? Buffer.allocUnsafeSlow(SEGMENT_SIZE);
  try {
    if (!(await readSegmentFile(file, buf))) return false;
    return await writeSummary(dir, walName, Number(wal.segNo), buf, contentHash(buf));
  } finally {
    spare.push(buf);
  }
}

/** A whole segment file into `into`; false when it is not there or not of that size (removed or recycled meanwhile). */
export async function readSegmentFile(file: string, into: Buffer): Promise<boolean> {
  const fh = await open(file, 'r').catch(() => undefined);
  if (fh === undefined) return false;
  try {
    if ((await fh.stat()).size !== into.length) return false;
    let filled = 0;
    while (filled < into.length) {
      const { bytesRead } = await fh.read(into, filled, into.length - filled, filled);
      if (bytesRead === 0) return false;
      filled += bytesRead;
    }
    return true;
  } finally {
    await fh.close();
  }
}
