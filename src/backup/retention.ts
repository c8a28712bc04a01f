// Pure expiry decision: which backups a retention policy expires, and from which WAL segment the archive is kept.
import { assert } from '../base/errors.js';
import { compareSegmentNames, defaultSegmentSize, parseSegmentName, parseWalFileName } from '../model/wal.js';

export interface RetainedBackup {
  label: string;
  type: 'full' | 'diff' | 'incr';
  status: 'complete' | 'incomplete' | 'failed';
  /** Label of the backup this one depends on (diff: its full; incr: the previous backup). */
  reference?: string;
  startTime: Date;
  stopTime?: Date;
  /** Name of the WAL segment the backup started in. */
  startWal: string;
}

export interface RetentionPolicy {
  /** Complete full backups to keep (count), or days of recovery window to keep (days). At least 1. */
  full: number;
  fullType: 'count' | 'days';
  /** Newest differential backups to keep; 0 or absent: diffs expire only with their full. */
  diff?: number;
}

/**
 * full-retention: an old full; diff-retention: a diff past policy.diff; dependency: something it depends on
 * expires; incomplete: an incomplete or failed backup older than the newest complete one.
 */
export type ExpireReason = 'full-retention' | 'diff-retention' | 'dependency' | 'incomplete';

export interface ExpiryDecision {
  expire: { label: string; reason: ExpireReason }[];
  /** Oldest start segment of the retained backups: archived WAL before it can go; undefined when nothing is kept. */
  keepWalFrom: string | undefined;
}

const dayMs = 24 * 3600_000;

/**
 * Decides which backups expire. The newest complete backup and everything it depends on never expire.
 * Days retention keeps every full younger than `full` days plus the newest full older than that, so a recovery
 * to any point of the last `full` days stays possible (pgBackRest's time-based retention).
 * A backup whose reference is not in the list is left alone.
 */
export function decideExpiry(backups: readonly RetainedBackup[], policy: RetentionPolicy, now: Date): ExpiryDecision {
  assert(Number.isInteger(policy.full) && policy.full >= 1, `retention full must be a positive integer, got ${policy.full}`);
  const byLabel = new Map(backups.map((b) => [b.label, b]));
  const newestFirst = [...backups].sort((a, b) => b.startTime.getTime() - a.startTime.getTime());
  const newestComplete = newestFirst.find((b) => b.status === 'complete');
  const keep = new Set(newestComplete === undefined ? [] : chain(newestComplete, byLabel).map((b) => b.label));
  const expired = new Map<string, ExpireReason>();
  const expire = (b: RetainedBackup, reason: ExpireReason): void => {
    if (!keep.has(b.label) && !expired.has(b.label)) expired.set(b.label, reason);
  };
  const expireDependents = (): void => {
    for (const b of newestFirst) {
      if (chain(b, byLabel).some((a) => expired.has(a.label))) expire(b, 'dependency');
    }
  };

  // Fulls past the count or the recovery window, then everything built on them.
  const fulls = newestFirst.filter((b) => b.type === 'full' && b.status === 'complete');
  fulls.slice(fullsToKeep(fulls, policy, now)).forEach((b) => expire(b, 'full-retention'));
  expireDependents();

  // Diffs past policy.diff among those still kept, then the incrs built on them.
  if (policy.diff !== undefined && policy.diff > 0) {
    const diffs = newestFirst.filter((b) => b.type === 'diff' && b.status === 'complete' && !expired.has(b.label));
    diffs.slice(policy.diff).forEach((b) => expire(b, 'diff-retention'));
    expireDependents();
  }

  // Incomplete and failed backups superseded by a complete one.
  if (newestComplete !== undefined) {
    const before = newestComplete.startTime.getTime();
    for (const b of newestFirst) {
      if (b.status !== 'complete' && b.startTime.getTime() < before) expire(b, 'incomplete');
    }
    expireDependents();
  }

  const kept = backups.filter((b) => !expired.has(b.label)).map((b) => b.startWal);
  return {
    expire: newestFirst.flatMap((b) => {
      const reason = expired.get(b.label);
      return reason === undefined ? [] : [{ label: b.label, reason }];
    }),
    keepWalFrom: kept.sort((a, b) => compareSegmentNames(a, b))[0],
  };
}

/** How many of the complete fulls (newest first) the policy keeps. */
function fullsToKeep(fulls: readonly RetainedBackup[], policy: RetentionPolicy, now: Date): number {
  if (policy.fullType === 'count') return policy.full;
  const windowStart = now.getTime() - policy.full * dayMs;
  const firstOld = fulls.findIndex((b) => (b.stopTime ?? b.startTime).getTime() <= windowStart);
  return firstOld === -1 ? fulls.length : firstOld + 1;
}

/** The backup and the backups it depends on, nearest first; stops at a missing reference or a loop. */
function chain(backup: RetainedBackup, byLabel: ReadonlyMap<string, RetainedBackup>): RetainedBackup[] {
  const result: RetainedBackup[] = [];
  for (let b: RetainedBackup | undefined = backup; b !== undefined && !result.includes(b); ) {
    result.push(b);
    b = b.reference === undefined ? undefined : byLabel.get(b.reference);
  }
  return result;
}

/**
 * The archived WAL files that may be removed once no backup before `keepWalFrom` is kept: segments, .partial and
 * .backup files of any timeline whose segment number is below it. History files and unknown names are kept.
 */
export function walToRemove(walNames: readonly string[], keepWalFrom: string | undefined, segSize = defaultSegmentSize): string[] {
  if (keepWalFrom === undefined) return [];
  const cutoff = parseSegmentName(keepWalFrom, segSize).segNo;
  return walNames.filter((name) => {
    const wal = parseWalFileName(name, segSize);
    return wal !== undefined && wal.kind !== 'history' && wal.segNo < cutoff;
  });
}
