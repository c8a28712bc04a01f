// 5-field cron schedules (Vixie cron syntax) evaluated in UTC: parsing, the next fire time and "is a run due".
import { assert, PgpilotError } from '../base/errors.js';

/**
 * A parsed schedule. Schedules are always in UTC. Day matching follows Vixie cron: when both day fields are
 * restricted (neither starts with `*`) a day matches if either does; otherwise both must match.
 */
export interface Cron {
  source: string;
  minute: ReadonlySet<number>;
  hour: ReadonlySet<number>;
  dayOfMonth: ReadonlySet<number>;
  month: ReadonlySet<number>;
  /** 0 = Sunday (7 in the text is folded to 0). */
  dayOfWeek: ReadonlySet<number>;
  dayOfMonthRestricted: boolean;
  dayOfWeekRestricted: boolean;
}

interface FieldSpec {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
}

const fields: readonly FieldSpec[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day-of-month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'] },
  { name: 'day-of-week', min: 0, max: 7, names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] },
];

const macros: Record<string, string> = {
  '@hourly': '0 * * * *',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@weekly': '0 0 * * 0',
  '@monthly': '0 0 1 * *',
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
};

const hint =
  'a schedule is 5 fields in UTC: minute hour day-of-month month day-of-week, e.g. "30 2 * * SUN" ' +
  '(02:30 UTC on Sundays) or "0 */6 * * MON-FRI"; or one of @hourly @daily @weekly @monthly @yearly';

const minuteMs = 60_000;
/** nextFire gives up after this long; parseCron already rejected schedules that never fire. */
const searchLimitMs = 100 * 366 * 24 * 3600_000;

/** Parses a cron expression; `fieldPath` names where it came from (e.g. spec.backup.repos[0].schedules.full). */
export function parseCron(expr: string, fieldPath: string): Cron {
  const source = expr.trim();
  const fail = (what: string): never => {
    throw new PgpilotError('Config', `${fieldPath}: ${what} in cron schedule "${source}"`, { hint });
  };
  if (source === '') fail('nothing to read');
  const text = source.startsWith('@') ? macros[source.toLowerCase()] ?? fail(`unknown macro ${source}`) : source;
  const parts = text.split(/\s+/);
  if (parts.length !== 5) fail(`expected 5 fields, got ${parts.length}`);
  const sets = fields.map((spec, i) => parseField(parts[i] ?? '', spec, (what) => fail(`${spec.name} field: ${what}`)));
  const [minute, hour, dayOfMonth, month, dayOfWeek] = sets as [Set<number>, Set<number>, Set<number>, Set<number>, Set<number>];
  if (dayOfWeek.delete(7)) dayOfWeek.add(0);
  const cron: Cron = {
    source,
    minute,
    hour,
    dayOfMonth,
    month,
    dayOfWeek,
    dayOfMonthRestricted: !(parts[2] ?? '').startsWith('*'),
    dayOfWeekRestricted: !(parts[4] ?? '').startsWith('*'),
  };
  // 28 years hold every weekday/date combination, leap days included.
  if (search(cron, Date.UTC(2000, 0, 1), 28 * 366 * 24 * 3600_000) === undefined) fail('the day fields never match a date');
  return cron;
}

function parseField(text: string, spec: FieldSpec, fail: (what: string) => never): Set<number> {
  const values = new Set<number>();
  for (const item of text.split(',')) {
    const m = /^(\*|[0-9A-Za-z]+(?:-[0-9A-Za-z]+)?)(?:\/(\d+))?$/.exec(item);
    if (m === null || m[1] === undefined) return fail(`cannot read "${item}"`);
    let [lo, hi] = [spec.min, spec.max];
    if (m[1] !== '*') {
      const [a, b] = m[1].split('-');
      lo = fieldValue(a ?? '', spec, fail);
      hi = b === undefined ? (m[2] === undefined ? lo : fail(`"${item}": a step needs * or a range before it`)) : fieldValue(b, spec, fail);
      if (lo > hi) fail(`range "${item}" runs backwards`);
    }
    const step = m[2] === undefined ? 1 : Number(m[2]);
    if (step < 1 || step > spec.max) fail(`step in "${item}" must be between 1 and ${spec.max}`);
    for (let v = lo; v <= hi; v += step) values.add(v);
  }
  return values;
}

function fieldValue(text: string, spec: FieldSpec, fail: (what: string) => never): number {
  const named = spec.names?.indexOf(text.toUpperCase()) ?? -1;
  if (named >= 0) return named + spec.min;
  if (!/^\d+$/.test(text)) fail(`"${text}" is not a number${spec.names === undefined ? '' : ' or a name'}`);
  const value = Number(text);
  if (value < spec.min || value > spec.max) fail(`${value} is out of range ${spec.min}-${spec.max}`);
  return value;
}

function dayMatches(cron: Cron, date: Date): boolean {
  const dom = cron.dayOfMonth.has(date.getUTCDate());
  const dow = cron.dayOfWeek.has(date.getUTCDay());
  return cron.dayOfMonthRestricted && cron.dayOfWeekRestricted ? dom || dow : dom && dow;
}

/** The first fire time at or after `start` (a whole minute) and at most `limitMs` later, as epoch ms. */
function search(cron: Cron, start: number, limitMs: number): number | undefined {
  let t = start;
  while (t <= start + limitMs) {
    const d = new Date(t);
    const [y, mo, day, h] = [d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), d.getUTCHours()];
    if (!cron.month.has(mo + 1)) t = Date.UTC(y, mo + 1, 1);
    else if (!dayMatches(cron, d)) t = Date.UTC(y, mo, day + 1);
    else if (!cron.hour.has(h)) t = Date.UTC(y, mo, day, h + 1);
    else if (!cron.minute.has(d.getUTCMinutes())) t += minuteMs;
    else return t;
  }
  return undefined;
}

/** The first minute strictly after `after` at which the schedule fires (UTC, minute resolution). */
export function nextFire(cron: Cron, after: Date): Date {
  const start = Math.floor(after.getTime() / minuteMs) * minuteMs + minuteMs;
  const t = search(cron, start, searchLimitMs);
  assert(t !== undefined, `cron schedule "${cron.source}" does not fire within 100 years of ${after.toISOString()}`);
  return new Date(t);
}

/**
 * Whether the schedule fires in (from, to]: a scheduler passes the time it last checked (or last ran the job)
 * and the current time, so a run is due exactly once per fire time, and a missed fire time is caught up once.
 */
export function firesBetween(cron: Cron, from: Date, to: Date): boolean {
  return from < to && nextFire(cron, from) <= to;
}
