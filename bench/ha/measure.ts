// The benchmark's arithmetic: the longest write gap in a window, acknowledged rows missing on the final primary,
// and small summaries; pure functions of the writer's log.
import type { WriterLog } from './writer.js';

export interface Gap {
  /** Longest time between two consecutive acknowledged inserts overlapping the window, ms. */
  ms: number;
  /** When it began (the acknowledgement before it), ms after the window's event. */
  startedAfterEventMs: number;
  /** Whether writes had not resumed by the end of the window (the gap runs to the window's end). */
  open: boolean;
  /** Inserts acknowledged inside the window. */
  acked: number;
}

/**
 * Longest gap between consecutive acknowledgements that overlaps [from, to]; the acknowledgement just before `from`
 * counts as the start of the first interval, and `to` closes the last one if nothing was acknowledged after it.
 */
export function longestGap(log: WriterLog, from: number, to: number, eventAt: number): Gap {
  const t = log.times;
  // first index with t >= from
  let lo = 0;
  let hi = t.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((t[mid] ?? 0) < from) lo = mid + 1;
    else hi = mid;
  }
  let prev = lo > 0 ? (t[lo - 1] ?? from) : from;
  let best = { ms: 0, start: prev };
  let acked = 0;
  let i = lo;
  for (; i < t.length && (t[i] ?? 0) <= to; i++) {
    const cur = t[i] ?? 0;
    if (cur - prev > best.ms) best = { ms: cur - prev, start: prev };
    prev = cur;
    acked++;
  }
  let open = false;
  const after = i < t.length ? (t[i] ?? to) : undefined;
  // the interval that straddles `to`: count the part up to the next ack, or up to `to` when there is none
  const tail = (after ?? to) - prev;
  if (tail > best.ms) {
    best = { ms: tail, start: prev };
    open = after === undefined;
  }
  return { ms: Math.round(best.ms), startedAfterEventMs: Math.round(best.start - eventAt), open, acked };
}

/** Acknowledged ids that are not in `present` (sorted ascending ids from the final primary). */
export function missing(acked: Float64Array, present: number[]): number[] {
  const lost: number[] = [];
  let j = 0;
  for (const id of acked) {
    while (j < present.length && (present[j] ?? 0) < id) j++;
    if (present[j] !== id) lost.push(id);
  }
  return lost;
}

export function max(xs: number[]): number | undefined {
  return xs.length === 0 ? undefined : Math.max(...xs);
}

export function median(xs: number[]): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
}

/** "1.23 s" for a duration in ms; "–" when unknown. */
export function seconds(ms: number | undefined, digits = 2): string {
  return ms === undefined ? '–' : `${(ms / 1000).toFixed(digits)} s`;
}

export function mib(bytes: number | undefined): string {
  return bytes === undefined || Number.isNaN(bytes) ? '–' : `${(bytes / 1048576).toFixed(1)} MiB`;
}

/** How many of the (ascending) times fall within [from, to]. */
export function countIn(times: Float64Array, from: number, to: number): number {
  let n = 0;
  for (const t of times) if (t >= from && t <= to) n++;
  return n;
}
