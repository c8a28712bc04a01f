// What every scenario shares: the run's options and log, the result shape the report renders, a cluster that is
// always destroyed, and one measured event (act, wait until the cluster is whole again, measure the write gap).
import path from 'node:path';
import { sleep } from '../../../src/base/wait.js';
import { clusterView, historyLength, query, targetOf, waitHealthy, waitNewLeader, type HaCluster } from '../cluster.js';
import { countIn, longestGap, missing, type Gap } from '../measure.js';
import { startWriter, type Writer, type WriterLog, type WriterOptions } from '../writer.js';

export interface Options {
  only: string[];
  rounds: number;
  cpuSeconds: number;
  syncFailovers: number;
  patroniSync: boolean;
  etcdSeconds: number;
  memorySeconds: number;
  out: string;
  logs: string;
}

export interface Context {
  options: Options;
  log(msg: string): void;
  /** Cleanups to run if the benchmark is interrupted. */
  cleanups: Set<() => Promise<unknown>>;
  /** The dynamic configuration each system label ran with (first cluster of that label). */
  settings: Record<string, Record<string, unknown>>;
  /** How long each cluster took from the start command to healthy, seconds. */
  starts: Array<{ scenario: string; label: string; seconds: number }>;
}

export interface Check {
  what: string;
  measured: string;
  target: string;
  /** undefined: not measured (not available, or failed to run). */
  pass: boolean | undefined;
}

export interface ScenarioResult {
  id: string;
  title: string;
  method: string;
  table: { head: string[]; rows: string[][] };
  checks: Check[];
  notes: string[];
  raw: Record<string, unknown>;
}

/** Starts a cluster, runs `fn`, and always destroys the cluster (copying its logs under ctx.options.logs). */
export async function withCluster<T>(ctx: Context, scenario: string, start: () => Promise<HaCluster>, fn: (c: HaCluster) => Promise<T>, notes: string[]): Promise<T> {
  const t0 = Date.now();
  const c = await start();
  ctx.starts.push({ scenario, label: c.label, seconds: (Date.now() - t0) / 1000 });
  const logsTo = path.join(ctx.options.logs, `${scenario}-${c.label.replace(/\W+/g, '-').toLowerCase()}`);
  const cleanup = (): Promise<string[]> => c.destroy(logsTo);
  ctx.cleanups.add(cleanup);
  try {
    ctx.settings[c.label] ??= c.config;
    return await fn(c);
  } finally {
    ctx.cleanups.delete(cleanup);
    const left = await c.destroy(logsTo);
    if (left.length > 0) notes.push(`${c.label}: after stopping the cluster, these processes were still running and were killed by the benchmark: ${left.join('; ')}`);
  }
}

export interface EventRound {
  leaderBefore: string;
  timelineBefore: number | undefined;
  leaderAfter: string | undefined;
  timelineAfter: number | undefined;
  /** ms from the action to the first /cluster answer naming a new running leader (node loss, switchover). */
  newLeaderMs: number | undefined;
  eventAt: number;
  windowEnd: number;
  gap: Gap;
  failedInserts: number;
  reconnects: number;
  historyBefore: number | undefined;
  historyAfter: number | undefined;
  killed?: number[];
  output?: string;
  error?: string;
}

export interface EventPlan {
  /** Performs the event on the current leader; returns what it killed or printed. */
  act(leader: string): Promise<{ killed?: number[]; output?: string }>;
  /** Whether to wait for another member to lead (node loss, switchover). */
  expectNewLeader: boolean;
  /** Restores what the event took away (a killed node), once the new leader is there. */
  restore?(leader: string): Promise<void>;
  /** Waits this long after the act before looking for a healthy cluster (an event still in progress looks healthy). */
  settleMs?: number;
  sync?: boolean;
  timeoutMs: number;
}

export type PendingRound = Omit<EventRound, 'gap' | 'failedInserts' | 'reconnects'>;

/** One measured event while `writer` runs: healthy → act → (new leader) → restore → healthy and writing again. */
export async function measureEvent(c: HaCluster, writer: Writer, plan: EventPlan): Promise<PendingRound> {
  const before = await waitHealthy(c, { sync: plan.sync ?? false, timeoutMs: plan.timeoutMs });
  const leaderBefore = before.leader?.name ?? '';
  const historyBefore = await historyLength(c).catch(() => undefined);
  await writer.ackedAfter(Date.now(), 30_000);
  await sleep(1000);
  const eventAt = Date.now();
  const r: PendingRound = {
    leaderBefore, timelineBefore: before.leader?.timeline, leaderAfter: undefined, timelineAfter: undefined, newLeaderMs: undefined,
    eventAt, windowEnd: eventAt, historyBefore, historyAfter: undefined,
  };
  try {
    Object.assign(r, await plan.act(leaderBefore));
    if (plan.expectNewLeader) {
      const seen = await waitNewLeader(c, leaderBefore, plan.timeoutMs);
      r.newLeaderMs = seen.seenAt - eventAt;
    }
    await plan.restore?.(leaderBefore);
    await sleep(plan.settleMs ?? 0);
    const after = await waitHealthy(c, { sync: plan.sync ?? false, timeoutMs: plan.timeoutMs });
    r.leaderAfter = after.leader?.name;
    r.timelineAfter = after.leader?.timeline;
    await writer.ackedAfter(Date.now(), 30_000);
    await sleep(1000);
  } catch (e) {
    r.error = e instanceof Error ? e.message : String(e);
    const v = await clusterView(c, 2000).catch(() => undefined);
    r.leaderAfter = v?.leader?.name;
    r.timelineAfter = v?.leader?.timeline;
  }
  r.windowEnd = Date.now();
  r.historyAfter = await historyLength(c).catch(() => undefined);
  return r;
}

/** The writer's figures for a round, once the writer has stopped: the window is one second before the act to the end. */
export function finishRound(r: PendingRound, log: WriterLog): EventRound {
  return { ...r, ...windowFigures(log, r.eventAt - 1000, r.windowEnd, r.eventAt) };
}

/** Gap, failed inserts and reconnects of the writer within [from, to]. */
export function windowFigures(log: WriterLog, from: number, to: number, eventAt: number): { gap: Gap; failedInserts: number; reconnects: number } {
  return { gap: longestGap(log, from, to, eventAt), failedInserts: countIn(log.failTimes, from, to), reconnects: countIn(log.reconnectTimes, from, to) };
}

/** Acknowledged rows that the final primary does not have. */
export async function lostRows(c: HaCluster, log: WriterLog, table: string, database = 'postgres'): Promise<{ checkedOn: string; lost: number; firstLost: number[]; rowsOnPrimary: number }> {
  const v = await waitHealthy(c, { timeoutMs: 20_000 }).catch(() => clusterView(c, 2000));
  const leader = v.leader?.name;
  if (leader === undefined) throw new Error('no primary to check acknowledged rows on');
  const rows = await query<{ id: string }>({ ...targetOf(c, leader), database }, `SELECT id FROM ${table} ORDER BY id`);
  const present = rows.map((r) => Number(r.id));
  const lost = missing(log.ids, present);
  return { checkedOn: leader, lost: lost.length, firstLost: lost.slice(0, 20), rowsOnPrimary: present.length };
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** The distinct error messages the writer saw within [from, to], with counts (at most `limit`). */
export function errorsIn(log: WriterLog, from: number, to: number, limit = 5): string[] {
  const counts = new Map<string, number>();
  for (const e of log.errors) if (e.at >= from && e.at <= to) counts.set(e.message, (counts.get(e.message) ?? 0) + 1);
  return [...counts].slice(0, limit).map(([m, n]) => `${n}× ${m}`);
}

export interface RoundsResult {
  label: string;
  rounds: EventRound[];
  acked: number;
  failedInserts: number;
  lost: Awaited<ReturnType<typeof lostRows>> | undefined;
  error: string | undefined;
  errors: string[];
}

/** Runs `n` measured events on one cluster with one writer running throughout, then checks for lost rows. */
export async function eventRounds(ctx: Context, c: HaCluster, tag: string, writerOptions: Omit<WriterOptions, 'table'> & { database?: string }, n: number, plan: EventPlan): Promise<RoundsResult> {
  const table = 'bench_ha';
  const out: RoundsResult = { label: c.label, rounds: [], acked: 0, failedInserts: 0, lost: undefined, error: undefined, errors: [] };
  await waitHealthy(c, { sync: plan.sync ?? false, timeoutMs: plan.timeoutMs });
  const writer = await startWriter({ ...writerOptions, table });
  const pending: PendingRound[] = [];
  for (let i = 0; i < n; i++) {
    const p = await measureEvent(c, writer, plan);
    pending.push(p);
    ctx.log(`${tag} ${c.label} round ${i + 1}/${n}: ${p.leaderBefore} -> ${p.leaderAfter ?? '?'}${p.newLeaderMs === undefined ? '' : `, new leader seen after ${p.newLeaderMs} ms`}${p.error === undefined ? '' : `, ERROR ${p.error}`}`);
    if (p.error !== undefined) {
      out.error = `round ${i + 1}: ${p.error}`;
      break;
    }
  }
  const log = await writer.stop();
  out.rounds = pending.map((p) => finishRound(p, log));
  for (const r of out.rounds) ctx.log(`${tag} ${c.label}: gap ${r.gap.ms} ms${r.gap.open ? ' (writes did not resume)' : ''}, ${r.failedInserts} failed inserts`);
  out.acked = log.ids.length;
  out.failedInserts = log.failTimes.length;
  out.errors = errorsIn(log, 0, Infinity, 8);
  try {
    out.lost = await lostRows(c, log, table, writerOptions.database ?? writerOptions.targets[0]?.database ?? 'postgres');
  } catch (e) {
    out.error ??= `lost-row check: ${errorMessage(e)}`;
  }
  return out;
}

/** Runs `fn` for a system, turning a failure (the cluster would not start, …) into an error entry. */
export async function attempt<T extends { error: string | undefined }>(ctx: Context, label: string, fn: () => Promise<T>, empty: (error: string) => T): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    ctx.log(`${label}: FAILED: ${errorMessage(e)}`);
    return empty(errorMessage(e));
  }
}

export function emptyRounds(label: string, error: string): RoundsResult {
  return { label, rounds: [], acked: 0, failedInserts: 0, lost: undefined, error, errors: [] };
}

/** The writer on direct connections to every member (superuser, database postgres). */
export function directWriter(c: HaCluster): Omit<WriterOptions, 'table'> {
  return { mode: 'direct', targets: c.directTargets(), connectTimeoutMs: 1000, queryTimeoutMs: 5000 };
}

/** "a, b, c" of the figures, formatted. */
export function list<T>(xs: T[], f: (x: T) => string): string {
  return xs.length === 0 ? '–' : xs.map(f).join(', ');
}
