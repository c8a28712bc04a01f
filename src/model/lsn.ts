// PostgreSQL log sequence numbers: parsing "X/Y" text into a bigint and back.
import { PgpilotError } from '../base/errors.js';

export type Lsn = bigint;

const lsnPattern = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;

export function parseLsn(text: string): Lsn {
  const m = lsnPattern.exec(text.trim());
  if (m === null || m[1] === undefined || m[2] === undefined) {
    throw new PgpilotError('Config', `not an LSN: "${text}"`, { hint: 'an LSN looks like 0/3000060' });
  }
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

export function formatLsn(lsn: Lsn): string {
  const hi = (lsn >> 32n).toString(16).toUpperCase();
  const lo = (lsn & 0xffffffffn).toString(16).toUpperCase();
  return `${hi}/${lo}`;
}

/** Byte distance a - b, never negative. */
export function lsnDiff(a: Lsn, b: Lsn): number {
  return a > b ? Number(a - b) : 0;
}
