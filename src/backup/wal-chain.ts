// Which archived WAL a recovery reads (following timeline history), where the archive ends, the first gap in it, and
// which backups lie on the history recovery follows.
import { PgpilotError } from '../base/errors.js';
import type { BackupManifest } from './backup-manifest.js';
import { type Lsn, formatLsn, parseLsn } from '../model/lsn.js';
import { type TimelineSwitch, defaultSegmentSize, parseTimelineHistory, segmentTimeline, walFileName } from '../model/wal.js';

export interface WalName {
  name: string;
  kind: 'segment' | 'partial' | 'history' | 'backup-history';
  tli: number;
  segNo: bigint | undefined;
}

export interface WalChain {
  /** The timeline recovery ends on (recovery_target_timeline = latest). */
  timeline: number;
  /** Segment names to read, in order, from the backup's start segment to the end of the archive (or the target). */
  segments: string[];
  /** The end of the last segment in the chain: nothing after it is archived. */
  endLsn: Lsn;
}

/** The history of each timeline that has a history file, from the files' contents. */
export function parseHistories(files: ReadonlyMap<number, string>): Map<number, TimelineSwitch[]> {
  return new Map([...files].map(([tli, text]) => [tli, parseTimelineHistory(text, `history file of timeline ${tli}`)]));
}

/** The newest timeline descending from `fromTli` (PostgreSQL's recovery_target_timeline = latest). */
export function latestTimeline(fromTli: number, histories: ReadonlyMap<number, TimelineSwitch[]>): number {
  let best = fromTli;
  for (const [tli, history] of histories) {
    if (tli > best && history.some((h) => h.tli === fromTli)) best = tli;
  }
  return best;
}

/**
 * Walks the segments recovery reads from `startSegNo` on, along the history of the latest timeline, until the archive
 * has no next segment. A segment missing while later ones of that timeline exist is a gap: an error naming it.
 * `untilSegNo` stops the walk early (an LSN target needs nothing past its segment).
 */
export function walChain(
  archived: readonly WalName[],
  histories: ReadonlyMap<number, TimelineSwitch[]>,
  from: { tli: number; startSegNo: bigint },
  untilSegNo?: bigint,
  segSize = defaultSegmentSize,
): WalChain {
  const timeline = latestTimeline(from.tli, histories);
  const history = histories.get(timeline) ?? [];
  const have = new Set(archived.filter((w) => w.kind === 'segment' || w.kind === 'partial').map((w) => (w.kind === 'partial' ? w.name.slice(0, 24) : w.name)));
  // The last segment recovery would read: later segments of abandoned timelines do not count.
  const onChain = (w: WalName): boolean => w.segNo !== undefined && w.tli === segmentTimeline(history, timeline, w.segNo, segSize);
  const lastSegNo = archived.reduce((m, w) => (w.segNo !== undefined && onChain(w) && w.segNo > m ? w.segNo : m), -1n);
  const segments: string[] = [];
  for (let segNo = from.startSegNo; untilSegNo === undefined || segNo <= untilSegNo; segNo++) {
    const name = walFileName(segmentTimeline(history, timeline, segNo, segSize), segNo, segSize);
    if (!have.has(name)) {
      if (segNo <= lastSegNo || segments.length === 0) {
        throw new PgpilotError('Archive', `WAL segment ${name} is missing from the archive: recovery cannot pass it`, {
          hint: segments.length === 0 ? 'the backup\'s first segment is gone: choose another backup (--set) or run pgpilot verify' : `recovery can reach at most the end of ${segments.at(-1)}; choose an earlier target, or find the segment`,
        });
      }
      break;
    }
    segments.push(name);
  }
  const endLsn = (from.startSegNo + BigInt(segments.length)) * BigInt(segSize);
  return { timeline, segments, endLsn };
}

export function describeEnd(chain: WalChain): string {
  return `LSN ${formatLsn(chain.endLsn)} on timeline ${chain.timeline} (end of ${chain.segments.at(-1) ?? 'nothing'})`;
}

/**
 * The backups recovery can start from: those on the history of the newest timeline (recovery follows it). After an
 * in-place restore, backups taken on the abandoned timeline after the switch are not: their WAL leads elsewhere.
 */
export function backupsOnHistory(backups: BackupManifest[], histories: ReadonlyMap<number, TimelineSwitch[]>, set: string | undefined): BackupManifest[] {
  const newest = Math.max(0, ...histories.keys(), ...backups.map((b) => b.timeline));
  const history = histories.get(newest) ?? [];
  const onHistory = (b: BackupManifest): boolean => {
    if (b.timeline === newest) return true;
    const left = history.find((h) => h.tli === b.timeline);
    return left !== undefined && parseLsn(b.stopLsn) <= left.switchLsn;
  };
  const off = backups.find((b) => b.label === set && !onHistory(b));
  if (off !== undefined) {
    throw new PgpilotError('Backup', `backup ${off.label} is on timeline ${off.timeline}, which the newest timeline ${newest} does not pass through at that point`, {
      hint: 'it belongs to a history the cluster has left (an in-place restore or a failover): choose another backup (pgpilot backups)',
    });
  }
  return backups.filter(onHistory);
}
