// The blocks changed since a reference backup started, summed up from the WAL between the two backups' starts (read
// from pg_wal where it still is, else from the archive; across timeline switches), and the changed blocks of one
// relation segment file.
import { open } from 'node:fs/promises';
import path from 'node:path';
import { type Lsn, formatLsn } from '../model/lsn.js';
import { type TimelineSwitch, segmentTimeline, walFileName } from '../model/wal.js';
import { archivedHistories } from './recovery-window.js';
import type { Repo } from './repo.js';
import { findStored, readStoredInto } from './wal-archive.js';
import { type WalChanges, WalScanError, relForkKey, scanWal } from './wal-records.js';

const SEGMENT_SIZE = 16 * 1024 * 1024;
const BLOCKS_PER_FILE = 131072;
const GLOBAL_TABLESPACE = 1664;
const DEFAULT_TABLESPACE = 1663;

/**
 * Reads the WAL from `from` (the reference backup's start, on timeline `fromTli`) up to `to` (this backup's start on
 * timeline `tli`), following the timeline history across switches in between.
 */
export async function walChangesBetween(repo: Repo, dataDir: string, from: { tli: number; lsn: Lsn }, to: { tli: number; lsn: Lsn }): Promise<WalChanges> {
  let history: TimelineSwitch[] = [];
  if (from.tli !== to.tli) {
    history = (await archivedHistories(repo)).get(to.tli) ?? [];
    const left = history.find((h) => h.tli === from.tli);
    if (left === undefined || left.switchLsn < from.lsn) throw new WalScanError(`timeline ${to.tli} does not pass through timeline ${from.tli} at ${formatLsn(from.lsn)}`);
  }
  const load = async (segNo: number, into: Buffer): Promise<boolean> => {
    const name = walFileName(segmentTimeline(history, to.tli, BigInt(segNo)), BigInt(segNo));
    if (await readLocal(path.join(dataDir, 'pg_wal', name), into)) return true;
    const stored = (await findStored(repo, name))[0];
    if (stored === undefined) return false;
    await readStoredInto(repo, stored, into);
    return true;
  };
  return scanWal(Number(from.lsn), Number(to.lsn), load, SEGMENT_SIZE);
}

/** A whole segment file of pg_wal into `into`; false when it is not there (removed or recycled meanwhile). */
async function readLocal(file: string, into: Buffer): Promise<boolean> {
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
