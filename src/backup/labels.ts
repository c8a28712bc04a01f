// Backup labels: a full is `YYYYMMDD-HHMMSSF`; a diff or incr is `<full label>_YYYYMMDD-HHMMSS(D|I)`.
import type { BackupType } from './backup-manifest.js';

const letter: Record<BackupType, string> = { full: 'F', diff: 'D', incr: 'I' };

function stamp(d: Date): string {
  const iso = d.toISOString();
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}-${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}`;
}

export function newLabel(type: BackupType, now: Date, full: string | undefined): string {
  const own = `${stamp(now)}${letter[type]}`;
  return type === 'full' || full === undefined ? own : `${full.slice(0, 16)}_${own}`;
}

export const LABEL_PATTERN = /^\d{8}-\d{6}F(_\d{8}-\d{6}[DI])?$/;

export function isLabel(s: string): boolean {
  return LABEL_PATTERN.test(s);
}
