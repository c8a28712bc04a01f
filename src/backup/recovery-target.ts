// Point-in-time targets (pure): parsing them, choosing the backup to start from, and PostgreSQL's recovery settings.
import { PgpilotError } from '../base/errors.js';
import { type Lsn, formatLsn, parseLsn } from '../model/lsn.js';
import type { BackupManifest } from './backup-manifest.js';

export type RecoveryTarget =
  | { kind: 'latest' }
  | { kind: 'immediate' }
  | { kind: 'time'; time: Date }
  | { kind: 'lsn'; lsn: Lsn }
  | { kind: 'xid'; xid: bigint }
  | { kind: 'name'; name: string; lsn: Lsn | undefined };

/** The target from the CLI's flags: at most one of --time, --lsn, --xid, --name, --immediate; none means latest. */
export function parseTarget(flags: { time?: string; lsn?: string; xid?: string; name?: string; immediate: boolean }): RecoveryTarget {
  const given = (['time', 'lsn', 'xid', 'name'] as const).filter((k) => flags[k] !== undefined);
  if (given.length + (flags.immediate ? 1 : 0) > 1) {
    throw new PgpilotError('Usage', `give at most one recovery target, not ${[...given.map((g) => `--${g}`), ...(flags.immediate ? ['--immediate'] : [])].join(' and ')}`);
  }
  if (flags.immediate) return { kind: 'immediate' };
  if (flags.time !== undefined) {
    const ms = Date.parse(withZone(flags.time));
    if (Number.isNaN(ms)) throw new PgpilotError('Usage', `--time "${flags.time}" is not a time`, { hint: 'use ISO 8601 with a zone, e.g. 2026-11-22T03:00:00Z' });
    return { kind: 'time', time: new Date(ms) };
  }
  if (flags.lsn !== undefined) {
    try {
      return { kind: 'lsn', lsn: parseLsn(flags.lsn) };
    } catch {
      throw new PgpilotError('Usage', `--lsn "${flags.lsn}" is not an LSN`, { hint: 'e.g. 0/3000158' });
    }
  }
  if (flags.xid !== undefined) {
    if (!/^\d+$/.test(flags.xid)) throw new PgpilotError('Usage', `--xid "${flags.xid}" is not a transaction ID`, { hint: 'e.g. 7412 (txid_current())' });
    return { kind: 'xid', xid: BigInt(flags.xid) };
  }
  if (flags.name !== undefined) return { kind: 'name', name: flags.name, lsn: undefined };
  return { kind: 'latest' };
}

/** A time of day without a zone is UTC (JavaScript would read it in the host's zone). */
function withZone(text: string): string {
  const t = text.trim();
  const hasTime = /\d:\d/.test(t);
  const hasZone = /(?:Z|[+-]\d{2}(?::?\d{2})?|\b(?:UTC|GMT))$/i.test(t);
  return hasTime && !hasZone ? `${t}Z` : t;
}

export function describeTarget(t: RecoveryTarget): string {
  switch (t.kind) {
    case 'latest':
      return 'the end of the archived WAL';
    case 'immediate':
      return 'the end of the backup (consistency)';
    case 'time':
      return `time ${t.time.toISOString()}`;
    case 'lsn':
      return `LSN ${formatLsn(t.lsn)}`;
    case 'xid':
      return `transaction ${t.xid}`;
    case 'name':
      return `restore point "${t.name}"`;
  }
}

/**
 * The newest complete backup from which recovery reaches the target: one that became consistent before it. An explicit
 * label must itself qualify. Too early a target is an error naming the earliest restorable point.
 */
export function chooseBackup(backups: readonly BackupManifest[], target: RecoveryTarget, label: string | undefined): BackupManifest {
  const complete = [...backups].sort((a, b) => (a.stopTime < b.stopTime ? -1 : 1));
  if (complete.length === 0) throw new PgpilotError('NotFound', 'the repository holds no complete backup', { hint: 'take one with pgpilot backup' });
  const qualifies = (b: BackupManifest): boolean => {
    switch (target.kind) {
      case 'latest':
      case 'immediate':
        return true;
      case 'time':
        return Date.parse(b.stopTime) <= target.time.getTime();
      case 'lsn':
        return parseLsn(b.stopLsn) <= target.lsn;
      case 'name':
        return target.lsn === undefined || parseLsn(b.stopLsn) <= target.lsn;
      case 'xid':
        // Transactions from the backup's start xmin on had not committed when it began: their commits are replayed.
        return b.startXmin === undefined || BigInt(b.startXmin) <= target.xid;
    }
  };
  if (label !== undefined) {
    const chosen = complete.find((b) => b.label === label);
    if (chosen === undefined) {
      throw new PgpilotError('NotFound', `backup ${label} is not a complete backup in the repository`, { hint: `complete backups: ${complete.map((b) => b.label).join(', ')}` });
    }
    if (!qualifies(chosen)) throw tooEarly(target, chosen, `backup ${label} became consistent after the target`);
    return chosen;
  }
  const chosen = complete.filter(qualifies).at(-1);
  if (chosen === undefined) throw tooEarly(target, complete[0] as BackupManifest, 'the target is before the earliest restorable point');
  return chosen;
}

function tooEarly(target: RecoveryTarget, earliest: BackupManifest, why: string): PgpilotError {
  return new PgpilotError('Backup', `cannot restore to ${describeTarget(target)}: ${why}`, {
    hint: `the earliest restorable point is ${earliest.stopTime} (LSN ${earliest.stopLsn}, end of backup ${earliest.label}); see pgpilot backups`,
  });
}

/** Quotes a value for postgresql.conf. */
const q = (v: string): string => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;

/** postgresql.conf lines that make PostgreSQL recover to the target and then promote. */
export function recoverySettings(target: RecoveryTarget, restoreCommand: string): string[] {
  const lines = [`restore_command = ${q(restoreCommand)}`, "recovery_target_timeline = 'latest'"];
  switch (target.kind) {
    case 'latest':
      return lines;
    case 'immediate':
      return [...lines, "recovery_target = 'immediate'", "recovery_target_action = 'promote'"];
    case 'time':
      // PostgreSQL's check of this setting refuses ISO 8601's T and Z: '2026-11-22 03:00:00.000+00'.
      return [...lines, `recovery_target_time = ${q(target.time.toISOString().replace('T', ' ').replace('Z', '+00'))}`, "recovery_target_action = 'promote'"];
    case 'lsn':
      return [...lines, `recovery_target_lsn = ${q(formatLsn(target.lsn))}`, "recovery_target_action = 'promote'"];
    case 'xid':
      return [...lines, `recovery_target_xid = ${q(String(target.xid))}`, "recovery_target_action = 'promote'"];
    case 'name':
      return [...lines, `recovery_target_name = ${q(target.name)}`, "recovery_target_action = 'promote'"];
  }
}
