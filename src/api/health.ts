// Health decisions of the Patroni-compatible endpoints: pure functions of the member status, no I/O.
import type { MemberStatus } from '../model/cluster.js';

/** What a probe brings besides the status: the time, and the replica lag limit from `?lag=`. */
export interface HealthProbe {
  now: number;
  maxLagBytes: number | undefined;
}

export type HealthCheck = (status: MemberStatus, probe: HealthProbe) => boolean;

const running = (s: MemberStatus): boolean => s.state === 'running';

/** The leader's running primary: the only member that takes writes. */
export const isPrimary: HealthCheck = (s) => running(s) && s.role === 'primary' && s.isLeader;

/** A running replica no further behind than `?lag=` (unknown lag passes, as in Patroni). */
export const isReplica: HealthCheck = (s, probe) =>
  running(s) &&
  s.role === 'replica' &&
  !s.isLeader &&
  !(probe.maxLagBytes !== undefined && s.lagBytes !== undefined && s.lagBytes > probe.maxLagBytes);

export const isReadOnly: HealthCheck = (s, probe) => isPrimary(s, probe) || isReplica(s, probe);

/** The agent loop completed within the leader lease ttl. */
export const isLive: HealthCheck = (s, probe) => probe.now - s.lastLoopAt <= s.ttlSeconds * 1000;

/** Ready for traffic: the leader's primary, or a replica whose WAL receiver streams. */
export const isReady: HealthCheck = (s) =>
  running(s) && ((s.isLeader && s.role === 'primary') || (s.role === 'replica' && s.streaming));

/** Health endpoints by path; Patroni 3.0 answers `/`, `/master`, `/leader` and `/read-write` like `/primary`. */
export const healthChecks: ReadonlyMap<string, HealthCheck> = new Map([
  ['/', isPrimary],
  ['/primary', isPrimary],
  ['/master', isPrimary],
  ['/leader', isPrimary],
  ['/read-write', isPrimary],
  ['/replica', isReplica],
  ['/read-only', isReadOnly],
  ['/health', running],
  ['/liveness', isLive],
  ['/readiness', isReady],
]);

export function healthStatusCode(ok: boolean): 200 | 503 {
  return ok ? 200 : 503;
}

const byteUnits: ReadonlyMap<string, number> = new Map([
  ['', 1],
  ['B', 1],
  ['kB', 1024],
  ['MB', 1024 ** 2],
  ['GB', 1024 ** 3],
  ['TB', 1024 ** 4],
]);

/**
 * A byte size as Patroni's `?lag=` takes it: `1048576`, `16kB`, `1MB` (PostgreSQL's case-sensitive units).
 * Undefined for text that is not a size: Patroni then applies no limit, and so do we.
 */
export function parseByteSize(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = m === null ? undefined : byteUnits.get(m[2] ?? '');
  if (m === null || unit === undefined) return undefined;
  return Math.floor(Number(m[1]) * unit);
}
