// What a scenario needs from a cluster under test, whichever system runs it, and the observations that work the same
// on both (Patroni's REST /cluster and /history, which pgpilot serves too, and PostgreSQL's own views).
import pg from 'pg';
import { sleep } from '../../src/base/wait.js';
import type { WriterTarget } from './writer.js';

export type SystemKind = 'pgpilot' | 'patroni';

export interface MemberView {
  name: string;
  role: string;
  state: string;
  host?: string;
  port?: number;
  timeline?: number;
  lag?: number | string;
}

export interface ClusterView {
  members: MemberView[];
  leader: MemberView | undefined;
}

export interface HaCluster {
  kind: SystemKind;
  /** "pgpilot", "Patroni defaults", "Patroni tuned", … */
  label: string;
  members: string[];
  apiPorts: number[];
  /** The dynamic configuration the cluster runs with (GET /config of a member). */
  config: Record<string, unknown>;
  /** Superuser connection to every member's PostgreSQL, in member order. */
  directTargets(): WriterTarget[];
  /** The application role through the read-write pooler, when the cluster has one. */
  pooledTarget(): Promise<WriterTarget | undefined>;
  /** Node loss: SIGKILL the member's agent and its postmaster at once. Returns the pids killed. */
  killNode(member: string): Promise<number[]>;
  /** The node comes back: start the member's agent again. */
  restoreNode(member: string): Promise<void>;
  /** SIGKILL the member's postmaster only. */
  crashPostgres(member: string): Promise<number>;
  /** A planned switchover through the system's own tool; resolves when the tool returns, with its output. */
  switchover(leader: string): Promise<string>;
  /** The pid of the DCS (etcd) process. */
  dcsPid(): Promise<number>;
  /** Agent (Patroni) processes, by member. */
  agentPids(): Promise<Array<{ member: string; pid: number }>>;
  /** Other processes of the system worth a memory figure (etcd, supervisor), by name. */
  otherPids(): Promise<Array<{ name: string; pid: number }>>;
  /** The member's agent log file. */
  agentLog(member: string): string;
  /**
   * Stops every process and deletes the files (copying the logs to `logsTo` first, when given); returns the command
   * lines of processes it had to kill by hand.
   */
  destroy(logsTo?: string): Promise<string[]>;
}

interface ClusterDocument {
  members?: Array<MemberView & { api_url?: string }>;
}

async function getJson<T>(port: number, path: string, timeoutMs: number): Promise<T> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(timeoutMs) });
  if (!r.ok) throw new Error(`GET ${path} on ${port}: HTTP ${r.status}`);
  return (await r.json()) as T;
}

/** The first answer of any member's API to `path`. */
async function firstAnswer<T>(c: HaCluster, path: string, timeoutMs: number): Promise<T> {
  return Promise.any(c.apiPorts.map((p) => getJson<T>(p, path, timeoutMs)));
}

/** The cluster as the members' APIs report it (the DCS view); rejects when no member answers within `timeoutMs`. */
export async function clusterView(c: HaCluster, timeoutMs = 1000): Promise<ClusterView> {
  const doc = await firstAnswer<ClusterDocument>(c, '/cluster', timeoutMs);
  const members = doc.members ?? [];
  return { members, leader: members.find((m) => m.role === 'leader' || m.role === 'master' || m.role === 'standby_leader') };
}

/** Timeline switches recorded in the DCS history key. */
export async function historyLength(c: HaCluster): Promise<number> {
  const h = await firstAnswer<unknown[]>(c, '/history', 2000);
  return Array.isArray(h) ? h.length : 0;
}

export async function dynamicConfig(c: Pick<HaCluster, 'apiPorts'>): Promise<Record<string, unknown>> {
  return Promise.any(c.apiPorts.map((p) => getJson<Record<string, unknown>>(p, '/config', 2000)));
}

/** Runs one query on a fresh connection. */
export async function query<T extends pg.QueryResultRow>(t: WriterTarget, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ ...t, connectionTimeoutMillis: 2000, query_timeout: 5000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export function targetOf(c: HaCluster, member: string): WriterTarget {
  const t = c.directTargets()[c.members.indexOf(member)];
  if (t === undefined) throw new Error(`no member ${member} in ${c.label}`);
  return t;
}

/** Why the cluster is not healthy yet, or undefined when it is. */
export async function unhealthy(c: HaCluster, sync: boolean): Promise<string | undefined> {
  let v: ClusterView;
  try {
    v = await clusterView(c, 2000);
  } catch (e) {
    return `no member API answered: ${e instanceof Error ? e.message : String(e)}`;
  }
  const leader = v.leader;
  if (leader === undefined) return 'no leader';
  if (leader.state !== 'running') return `leader ${leader.name} is ${leader.state}`;
  // in synchronous mode a failover needs a member the DCS names as synchronous (the sync key)
  if (sync && !v.members.some((m) => m.role === 'sync_standby')) return 'no member is named sync_standby in the DCS';
  for (const name of c.members) {
    const m = v.members.find((x) => x.name === name);
    if (m === undefined) return `member ${name} is not registered`;
    if (m.state !== 'running' && m.state !== 'streaming') return `member ${name} is ${m.state}`;
    if (m.timeline !== undefined && leader.timeline !== undefined && m.timeline !== leader.timeline) return `member ${name} is on timeline ${m.timeline}`;
  }
  try {
    const rows = await query<{ ro: boolean; streaming: string; sync: string }>(targetOf(c, leader.name),
      "SELECT pg_is_in_recovery() AS ro, count(*) FILTER (WHERE state = 'streaming') AS streaming, count(*) FILTER (WHERE sync_state = 'sync') AS sync FROM pg_stat_replication");
    const r = rows[0];
    if (r === undefined || r.ro) return `leader ${leader.name} is in recovery`;
    if (Number(r.streaming) < c.members.length - 1) return `${r.streaming} of ${c.members.length - 1} replicas stream from ${leader.name}`;
    if (sync && Number(r.sync) < 1) return `no synchronous standby on ${leader.name}`;
  } catch (e) {
    return `leader ${leader.name}: ${e instanceof Error ? e.message : String(e)}`;
  }
  return undefined;
}

/** Waits until one leader runs, every member runs on its timeline and every replica streams from it. */
export async function waitHealthy(c: HaCluster, options: { sync?: boolean; timeoutMs?: number } = {}): Promise<ClusterView> {
  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  let why: string | undefined = 'not checked';
  while (Date.now() < deadline) {
    why = await unhealthy(c, options.sync ?? false);
    if (why === undefined) return clusterView(c, 2000);
    await sleep(250);
  }
  throw new Error(`not healthy after ${options.timeoutMs ?? 120_000} ms: ${why}`);
}

/** Waits for a leader other than `old` (running); returns its name and when it was first seen. */
export async function waitNewLeader(c: HaCluster, old: string, timeoutMs: number): Promise<{ name: string; seenAt: number }> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const v = await clusterView(c, 1000);
      if (v.leader !== undefined && v.leader.name !== old && v.leader.state === 'running') return { name: v.leader.name, seenAt: Date.now() };
    } catch {
      // no answer yet
    }
    await sleep(100);
  }
  throw new Error(`no new leader within ${timeoutMs} ms`);
}

export async function leaderName(c: HaCluster): Promise<string> {
  const v = await clusterView(c, 2000);
  if (v.leader === undefined) throw new Error('no leader');
  return v.leader.name;
}
