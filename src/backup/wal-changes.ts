// The blocks changed since a reference backup started, summed up from the WAL between the two backups' starts (from
// the archiver's segment summaries, else read from pg_wal where it still is, else from the archive; across timeline
// switches; in parts on worker threads), and the changed blocks of one relation segment file.
import path from 'node:path';
import { type Lsn, formatLsn } from '../model/lsn.js';
import { type TimelineSwitch, segmentTimeline, walFileName } from '../model/wal.js';
import { archivedHistories } from './recovery-window.js';
import { type Repo, type RepoRef, repoRef } from './repo.js';
import { findStored, readStoredInto } from './wal-archive.js';
import { type ScanPart, type SegmentLoader, type WalChanges, WalScanError, mergeChanges, relForkKey, scanPart, scanParts } from './wal-records.js';
import { readSegmentFile, readSummary } from './wal-summary.js';
import { mapConcurrently } from '../base/concurrency.js';
import { runPool } from './worker-pool.js';

const SEGMENT_SIZE = 16 * 1024 * 1024;
const BLOCKS_PER_FILE = 131072;
const GLOBAL_TABLESPACE = 1664;
const DEFAULT_TABLESPACE = 1663;

/**
 * Fewer segments than this per thread are read on the calling thread: a thread takes about 50 ms to start, and two
 * threads on this kind of machine read about 1.6 times as fast as one, not twice.
 */
const SEGMENTS_PER_THREAD = 8;

export interface ScanOptions {
  /** Worker threads for long stretches of WAL. Default 1. */
  jobs?: number;
  /** Where the WAL archiver of this member leaves segment summaries (wal-summary.ts). */
  summaryDir?: string;
}

/** What changed, and how much of the WAL was known from summaries rather than read. */
export interface ScanResult {
  changes: WalChanges;
  segments: number;
  summarized: number;
}

/**
 * What changed from `from` (the reference backup's start) up to `to` (this backup's start), following the timeline
 * history across switches in between. Segments the archiver summarized, as archived, count by their summaries; the
 * rest of the WAL is read, in parts side by side on worker threads when there is enough of it.
 */
export async function walChangesBetween(repo: Repo, dataDir: string, from: { tli: number; lsn: Lsn }, to: { tli: number; lsn: Lsn }, o: ScanOptions = {}): Promise<ScanResult> {
  let history: TimelineSwitch[] = [];
  if (from.tli !== to.tli) {
    history = (await archivedHistories(repo)).get(to.tli) ?? [];
    const left = history.find((h) => h.tli === from.tli);
    if (left === undefined || left.switchLsn < from.lsn) throw new WalScanError(`timeline ${to.tli} does not pass through timeline ${from.tli} at ${formatLsn(from.lsn)}`);
  }
  const [start, end] = [Number(from.lsn), Number(to.lsn)];
  const [first, last] = [Math.floor(start / SEGMENT_SIZE), Math.floor((end - 1) / SEGMENT_SIZE)];
  const source: WalSource = { repo: repoRef(repo), dataDir, history, tli: to.tli };
  const summaries = o.summaryDir === undefined ? new Map<number, WalChanges>() : await usableSummaries(repo, o.summaryDir, source, first, last);
  // The stretches no summary covers, read from the WAL: a stretch after a summarized segment starts with its first
  // record (the record running into it is in the summary).
  const parts: ScanPart[] = [];
  let threads = false;
  let from0: number | undefined;
  for (let seg = first; seg <= last + 1; seg++) {
    const covered = seg > last || summaries.has(seg);
    if (!covered) from0 ??= seg;
    if (!covered || from0 === undefined) continue;
    const [s, e] = [from0 === first ? start : from0 * SEGMENT_SIZE, seg > last ? end : seg * SEGMENT_SIZE];
    const split = scanParts(s, e, Math.min(o.jobs ?? 1, Math.floor((seg - from0) / SEGMENTS_PER_THREAD)), SEGMENT_SIZE);
    parts.push(...split.map((p) => ({ ...p, atBoundary: p.atBoundary || s !== start })));
    threads ||= split.length > 1;
    from0 = undefined;
  }
  const found = [...summaries.values(), ...(await scanAll(repo, source, parts, threads ? (o.jobs ?? 1) : 1))];
  return { changes: mergeChanges(found), segments: last - first + 1, summarized: summaries.size };
}

/** Reads the parts: on the calling thread one after another, or side by side on `threads` worker threads. */
async function scanAll(repo: Repo, source: WalSource, parts: readonly ScanPart[], threads: number): Promise<WalChanges[]> {
  const found: WalChanges[] = [];
  if (threads < 2) {
    const load = walLoader(repo, source);
    for (const p of parts) found.push(await scanPart(p, load, { segSize: SEGMENT_SIZE }));
    return found;
  }
  await runPool<ScanPart, WalChanges>({
    script: new URL('./wal-scan-worker.js', import.meta.url),
    workerData: () => source,
    jobs: threads,
    tasks: parts,
    onResult: (r) => found.push(r),
  });
  return found;
}

/** The summaries of segments `first` to `last` that describe the very content archived under their names. */
async function usableSummaries(repo: Repo, dir: string, source: WalSource, first: number, last: number): Promise<Map<number, WalChanges>> {
  const segs = Array.from({ length: last - first + 1 }, (_, i) => first + i);
  const found = await mapConcurrently(segs, 8, async (seg) => {
    const name = segmentFileName(source, seg);
    const summary = await readSummary(dir, name);
    if (summary === undefined) return undefined;
    const stored = await findStored(repo, name);
    return stored.some((w) => w.hash === summary.hash) ? summary.changes : undefined;
  });
  return new Map(segs.flatMap((seg, i) => (found[i] === undefined ? [] : [[seg, found[i]] as [number, WalChanges]])));
}

const segmentFileName = (source: WalSource, segNo: number): string => walFileName(segmentTimeline(source.history, source.tli, BigInt(segNo)), BigInt(segNo));

/** Where a scan finds the WAL: pg_wal of the data directory, else the repository; the timeline of each segment. */
export interface WalSource {
  repo: RepoRef;
  dataDir: string;
  history: TimelineSwitch[];
  tli: number;
}

/** Loads segments from pg_wal while they are still there, else from the archive. */
export function walLoader(repo: Repo, source: WalSource): SegmentLoader {
  return async (segNo, into) => {
    const name = segmentFileName(source, segNo);
    if (await readSegmentFile(path.join(source.dataDir, 'pg_wal', name), into)) return true;
    const stored = (await findStored(repo, name))[0];
    if (stored === undefined) return false;
    await readStoredInto(repo, stored, into);
    return true;
  };
}

const relationFile = /^(?:global|base\/(\d+))\/(\d+)(?:_(fsm|vm|init))?(?:\.(\d+))?$/;

/**
 * The blocks (from the file's start, sorted) of a main-fork relation file the WAL says changed; undefined when the
 * WAL cannot tell: free space and visibility map forks (not every change to them is WAL-logged block by block), and
 * databases created or dropped in between (copied as directories).
 */
export function changedBlocksOfFile(changes: WalChanges, rel: string, size: number): number[] | undefined {
  const m = relationFile.exec(rel);
  if (m === null || m[3] !== undefined) return undefined;
  const db = m[1] === undefined ? 0 : Number(m[1]);
  if (changes.databases.has(db)) return undefined;
  const key = relForkKey({ spc: m[1] === undefined ? GLOBAL_TABLESPACE : DEFAULT_TABLESPACE, db, rel: Number(m[2]), fork: 0 });
  const first = Number(m[4] ?? 0) * BLOCKS_PER_FILE;
  const inFile = Math.ceil(size / 8192);
  const found = new Set<number>();
  for (const b of changes.blocks.get(key) ?? []) if (b >= first && b < first + inFile) found.add(b - first);
  // Truncated (or created) since: everything from that block on may differ.
  const from = changes.from.get(key);
  if (from !== undefined) for (let b = Math.max(0, from - first); b < inFile; b++) found.add(b);
  return [...found].sort((a, b) => a - b);
}
