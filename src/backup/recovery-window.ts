// The recoverable window of a repository: from the end of its oldest backup to the end of the archived WAL, per timeline.
import { formatLsn, parseLsn } from '../model/lsn.js';
import { type TimelineSwitch, parseSegmentName } from '../model/wal.js';
import type { BackupManifest } from './backup-manifest.js';
import type { Repo } from './repo.js';
import { type ArchivedWal, listWal, readStored } from './wal-archive.js';
import { type WalChain, parseHistories, walChain } from './wal-chain.js';

const SEGMENT = 16n * 1024n * 1024n;

export interface RecoveryWindow {
  /** The earliest point a restore reaches: the end of the oldest complete backup. */
  earliest: { backup: string; lsn: string; time: string; timeline: number };
  /** The latest: the end of the archived WAL recovery can read, on the newest timeline; or the gap that stops it. */
  latest: { lsn: string; timeline: number } | { error: string };
  /** Each timeline's archived WAL range. */
  timelines: { timeline: number; fromLsn: string; toLsn: string }[];
}

/** The history of every archived timeline, read and parsed (`archived`: the archive's listing when at hand). */
export async function archivedHistories(repo: Repo, archived?: readonly ArchivedWal[]): Promise<Map<number, TimelineSwitch[]>> {
  const texts = new Map<number, string>();
  for (const h of (archived ?? (await listWal(repo))).filter((w) => w.kind === 'history')) texts.set(h.tli, (await readStored(repo, h)).toString('utf8'));
  return parseHistories(texts);
}

export async function recoveryWindow(repo: Repo, backups: readonly BackupManifest[]): Promise<RecoveryWindow | undefined> {
  const oldest = [...backups].sort((a, b) => (a.stopTime < b.stopTime ? -1 : 1))[0];
  if (oldest === undefined) return undefined;
  const archived = await listWal(repo);
  const ranges = new Map<number, { from: bigint; to: bigint }>();
  for (const w of archived) {
    if (w.segNo === undefined || w.kind !== 'segment') continue;
    const r = ranges.get(w.tli) ?? { from: w.segNo, to: w.segNo };
    ranges.set(w.tli, { from: w.segNo < r.from ? w.segNo : r.from, to: w.segNo > r.to ? w.segNo : r.to });
  }
  let latest: RecoveryWindow['latest'];
  try {
    const chain: WalChain = walChain(archived, await archivedHistories(repo, archived), { tli: oldest.timeline, startSegNo: parseSegmentName(oldest.startWal).segNo });
    latest = { lsn: formatLsn(chain.endLsn), timeline: chain.timeline };
  } catch (e) {
    latest = { error: e instanceof Error ? e.message : String(e) };
  }
  return {
    earliest: { backup: oldest.label, lsn: formatLsn(parseLsn(oldest.stopLsn)), time: oldest.stopTime, timeline: oldest.timeline },
    latest,
    timelines: [...ranges].sort(([a], [b]) => a - b).map(([timeline, r]) => ({ timeline, fromLsn: formatLsn(r.from * SEGMENT), toLsn: formatLsn((r.to + 1n) * SEGMENT) })),
  };
}
