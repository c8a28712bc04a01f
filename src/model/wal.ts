// WAL file names (segments, .partial, .history, .backup), segment maths and timeline history files.
import { assert, PgpilotError } from '../base/errors.js';
import { formatLsn, parseLsn, type Lsn } from './lsn.js';

/** PostgreSQL's default WAL segment size (initdb --wal-segsize=16). */
export const defaultSegmentSize = 16 * 1024 * 1024;

/** A parsed WAL archive file name. History files name a timeline only. */
export type WalFile =
  | { kind: 'segment' | 'partial' | 'backup-history'; tli: number; segNo: bigint }
  | { kind: 'history'; tli: number };

/** One line of a timeline history file: timeline `tli` ended at `switchLsn`, where its child timeline begins. */
export interface TimelineSwitch {
  tli: number;
  switchLsn: Lsn;
  reason: string;
}

const hex8 = '[0-9A-F]{8}';
const walNamePatterns: [WalFile['kind'], RegExp][] = [
  ['segment', new RegExp(`^(${hex8})(${hex8})(${hex8})$`)],
  ['partial', new RegExp(`^(${hex8})(${hex8})(${hex8})\\.partial$`)],
  ['backup-history', new RegExp(`^(${hex8})(${hex8})(${hex8})\\.${hex8}\\.backup$`)],
  ['history', new RegExp(`^(${hex8})\\.history$`)],
];

function segmentsPerXLogId(segSize: number): bigint {
  assert(segSize >= 1 << 20 && segSize <= 1 << 30 && (segSize & (segSize - 1)) === 0, `bad WAL segment size ${segSize}`);
  return 0x100000000n / BigInt(segSize);
}

function hex(n: number | bigint): string {
  return n.toString(16).toUpperCase().padStart(8, '0');
}

/** The file name of segment `segNo` on timeline `tli`, like PostgreSQL's XLogFileName. */
export function walFileName(tli: number, segNo: bigint, segSize = defaultSegmentSize): string {
  const perId = segmentsPerXLogId(segSize);
  return `${hex(tli)}${hex(segNo / perId)}${hex(segNo % perId)}`;
}

/** The name of the segment on timeline `tli` that holds `lsn`. */
export function segmentName(tli: number, lsn: Lsn, segSize = defaultSegmentSize): string {
  return walFileName(tli, lsn / BigInt(segSize), segSize);
}

/** Classifies a WAL archive file name; undefined for anything else (lowercase hex, timeline 0, bad segment part). */
export function parseWalFileName(name: string, segSize = defaultSegmentSize): WalFile | undefined {
  for (const [kind, pattern] of walNamePatterns) {
    const m = pattern.exec(name);
    if (m === null) continue;
    const tli = Number.parseInt(m[1] ?? '', 16);
    if (tli === 0) return undefined;
    if (kind === 'history') return { kind, tli };
    const log = BigInt(`0x${m[2] ?? ''}`);
    const seg = BigInt(`0x${m[3] ?? ''}`);
    const perId = segmentsPerXLogId(segSize);
    if (seg >= perId) return undefined;
    return { kind, tli, segNo: log * perId + seg };
  }
  return undefined;
}

/** Parses a plain segment name (24 hex digits) or throws. */
export function parseSegmentName(name: string, segSize = defaultSegmentSize): { tli: number; segNo: bigint } {
  const parsed = parseWalFileName(name, segSize);
  if (parsed === undefined || parsed.kind !== 'segment') {
    throw new PgpilotError('Archive', `not a WAL segment name: "${name}"`, {
      hint: 'a WAL segment name is 24 uppercase hex digits: timeline, log and segment, e.g. 000000010000000000000003',
    });
  }
  return parsed;
}

/** The segment that follows `name` on the same timeline. */
export function nextSegment(name: string, segSize = defaultSegmentSize): string {
  const { tli, segNo } = parseSegmentName(name, segSize);
  return walFileName(tli, segNo + 1n, segSize);
}

/** The LSN of the first byte of segment `name`. */
export function segmentStartLsn(name: string, segSize = defaultSegmentSize): Lsn {
  return parseSegmentName(name, segSize).segNo * BigInt(segSize);
}

/** The segments on timeline `tli` from the one holding `startLsn` to the one holding `stopLsn`, both included. */
export function segmentsBetween(tli: number, startLsn: Lsn, stopLsn: Lsn, segSize = defaultSegmentSize): string[] {
  assert(startLsn <= stopLsn, `WAL range ends before it starts: ${formatLsn(startLsn)} > ${formatLsn(stopLsn)}`);
  const size = BigInt(segSize);
  const names: string[] = [];
  for (let segNo = startLsn / size; segNo <= stopLsn / size; segNo++) names.push(walFileName(tli, segNo, segSize));
  return names;
}

/** Orders segment names by position in the WAL (segment number), then by timeline. */
export function compareSegmentNames(a: string, b: string, segSize = defaultSegmentSize): number {
  const x = parseSegmentName(a, segSize);
  const y = parseSegmentName(b, segSize);
  if (x.segNo !== y.segNo) return x.segNo < y.segNo ? -1 : 1;
  return x.tli - y.tli;
}

/** The name of the history file of timeline `tli`, e.g. 00000002.history. */
export function historyFileName(tli: number): string {
  return `${hex(tli)}.history`;
}

/**
 * Parses a timeline history file (PostgreSQL's readTimelineHistory): one `parentTLI<TAB>switchLSN<TAB>reason` line
 * per ancestor timeline, in increasing timeline order; blank lines and `#` comments are skipped.
 */
export function parseTimelineHistory(text: string, source = 'timeline history file'): TimelineSwitch[] {
  const result: TimelineSwitch[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const corrupt = (what: string): PgpilotError =>
      new PgpilotError('Corrupt', `${source} line ${i + 1}: ${what}: "${line}"`, {
        hint: 'each line reads <timeline>\\t<switch LSN>\\t<reason>, e.g. "1\\t0/3000158\\tno recovery target specified"',
      });
    const m = /^(\d+)(?:\s+(\S+))?(?:\s+(.*))?$/.exec(line);
    if (m === null) throw corrupt('expected a numeric timeline ID');
    if (m[2] === undefined) throw corrupt('expected a switch point LSN');
    const tli = Number(m[1]);
    let switchLsn: Lsn;
    try {
      switchLsn = parseLsn(m[2]);
    } catch {
      throw corrupt('expected a switch point LSN');
    }
    const last = result.at(-1);
    if (last !== undefined && tli <= last.tli) throw corrupt('timeline IDs must be in increasing sequence');
    result.push({ tli, switchLsn, reason: m[3] ?? '' });
  });
  return result;
}

/**
 * The timeline whose copy of segment `segNo` recovery to `targetTli` reads: the newest timeline of the history that
 * began at or before that segment (the segment holding a switch point is read from the new timeline).
 */
export function segmentTimeline(
  history: readonly TimelineSwitch[],
  targetTli: number,
  segNo: bigint,
  segSize = defaultSegmentSize,
): number {
  const size = BigInt(segSize);
  for (const entry of history) {
    if (segNo < entry.switchLsn / size) return entry.tli;
  }
  return targetTli;
}
