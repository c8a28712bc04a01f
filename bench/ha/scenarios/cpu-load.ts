// Scenario 6, full CPU load: one busy-loop process per core at normal priority for N seconds on a healthy pgpilot
// cluster with the writer running; failovers that happened (expected: none), leaders seen, agent memory before/after.
import { signalPid } from '../../../src/runner/processes.js';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import { sleep } from '../../../src/base/wait.js';
import { mib, seconds } from '../measure.js';
import { startPgpilot } from '../systems/pgpilot.js';
import { memoryOf, waitGone } from '../procs.js';
import { clusterView, historyLength, waitHealthy, type HaCluster } from '../cluster.js';
import { startWriter } from '../writer.js';
import { attempt, directWriter, errorMessage, errorsIn, lostRows, withCluster, windowFigures, type Context, type ScenarioResult } from './common.js';
import type { Gap } from '../measure.js';

interface LoadResult {
  error: string | undefined;
  seconds?: number;
  burners?: number;
  leaderBefore?: string | undefined;
  leaderAfter?: string | undefined;
  timelineBefore?: number | undefined;
  timelineAfter?: number | undefined;
  historyBefore?: number;
  historyAfter?: number | undefined;
  /** Leader changes seen by polling /cluster once a second. */
  leaderChanges?: string[];
  /** Polls in which no member answered or no leader was named. */
  pollsWithoutLeader?: number;
  polls?: number;
  failovers?: number;
  gap?: Gap;
  failedInserts?: number;
  acked?: number;
  lost?: number | undefined;
  writerErrors?: string[];
  agentRss?: Array<{ member: string; startBytes: number | undefined; endBytes: number | undefined; hwmBytes: number | undefined }>;
  /** Agent log lines about promotion, demotion, lock loss or failsafe during the load. */
  agentEvents?: string[];
}

async function agentMemory(c: HaCluster): Promise<Map<string, { rss: number; hwm: number }>> {
  const out = new Map<string, { rss: number; hwm: number }>();
  for (const a of await c.agentPids()) {
    const m = await memoryOf(a.pid);
    if (m !== undefined) out.set(a.member, m);
  }
  return out;
}

async function agentEvents(c: HaCluster, since: number): Promise<string[]> {
  const lines: string[] = [];
  for (const m of c.members) {
    const text = await fs.readFile(c.agentLog(m), 'utf8').catch(() => '');
    for (const line of text.split('\n')) {
      if (!/promot|demot|lock|failsafe|lease|fenc/i.test(line)) continue;
      const at = Date.parse((/"time":"([^"]+)"/.exec(line))?.[1] ?? '');
      if (Number.isNaN(at) || at < since) continue;
      lines.push(`${m}: ${line.length > 300 ? `${line.slice(0, 300)}…` : line}`);
    }
  }
  return lines;
}

async function load(ctx: Context, c: HaCluster): Promise<LoadResult> {
  const r: LoadResult = { error: undefined, seconds: ctx.options.cpuSeconds };
  const before = await waitHealthy(c, { timeoutMs: 120_000 });
  r.leaderBefore = before.leader?.name;
  r.timelineBefore = before.leader?.timeline;
  r.historyBefore = await historyLength(c);
  const mem0 = await agentMemory(c);
  const writer = await startWriter({ ...directWriter(c), table: 'bench_ha' });
  await sleep(2000);
  const burners: ChildProcess[] = [];
  const cleanup = async (): Promise<void> => {
    for (const b of burners) signalPid(b.pid, 'SIGKILL');
    await waitGone(burners.flatMap((b) => (b.pid === undefined ? [] : [b.pid])), 5000);
  };
  ctx.cleanups.add(cleanup);
  const startAt = Date.now();
  let end = startAt;
  try {
    r.burners = os.availableParallelism();
    for (let i = 0; i < r.burners; i++) burners.push(spawn(process.execPath, ['-e', 'for(;;);'], { stdio: 'ignore' }));
    ctx.log(`cpu-load: ${r.burners} busy loops for ${ctx.options.cpuSeconds} s`);
    let leader = r.leaderBefore;
    r.leaderChanges = [];
    r.polls = 0;
    r.pollsWithoutLeader = 0;
    const deadline = startAt + ctx.options.cpuSeconds * 1000;
    while (Date.now() < deadline) {
      const v = await clusterView(c, 2000).catch(() => undefined);
      r.polls++;
      if (v?.leader === undefined) r.pollsWithoutLeader++;
      else if (v.leader.name !== leader) {
        r.leaderChanges.push(`${leader ?? '?'} → ${v.leader.name} at +${((Date.now() - startAt) / 1000).toFixed(1)} s`);
        leader = v.leader.name;
      }
      await sleep(1000);
    }
  } finally {
    await cleanup();
    ctx.cleanups.delete(cleanup);
    end = Date.now();
  }
  ctx.log('cpu-load: load stopped');
  try {
    const after = await waitHealthy(c, { timeoutMs: 120_000 });
    r.leaderAfter = after.leader?.name;
    r.timelineAfter = after.leader?.timeline;
    r.historyAfter = await historyLength(c);
  } catch (e) {
    r.error = errorMessage(e);
  }
  const mem1 = await agentMemory(c);
  const log = await writer.stop();
  Object.assign(r, windowFigures(log, startAt, end, startAt));
  r.acked = log.ids.length;
  r.writerErrors = errorsIn(log, startAt, end);
  r.lost = await lostRows(c, log, 'bench_ha').then((l) => l.lost, () => undefined);
  r.failovers = Math.max((r.historyAfter ?? r.historyBefore) - r.historyBefore, r.leaderChanges?.length ?? 0);
  r.agentRss = c.members.map((m) => ({ member: m, startBytes: mem0.get(m)?.rss, endBytes: mem1.get(m)?.rss, hwmBytes: mem1.get(m)?.hwm }));
  r.agentEvents = (await agentEvents(c, startAt)).slice(0, 20);
  ctx.log(`cpu-load: ${r.failovers} failover(s), gap ${r.gap?.ms} ms`);
  return r;
}

export async function cpuLoad(ctx: Context): Promise<ScenarioResult> {
  const notes: string[] = [];
  ctx.log('cpu-load: pgpilot');
  const r = await attempt(ctx, 'pgpilot', () => withCluster(ctx, 'cpu-load', () => startPgpilot({ name: 'cpu' }), (c) => load(ctx, c), notes), (e): LoadResult => ({ error: e }));
  const s = ctx.options.cpuSeconds;
  if (r.error !== undefined) notes.push(`pgpilot: ${r.error}`);
  if ((r.writerErrors ?? []).length > 0) notes.push(`pgpilot: writer errors during the load: ${(r.writerErrors ?? []).join('; ')}`);
  if ((r.agentEvents ?? []).length > 0) notes.push(`pgpilot agent log lines about leadership during the load:\n\n${(r.agentEvents ?? []).map((l) => `    ${l}`).join('\n')}`);
  const ok = r.failovers !== undefined;
  return {
    id: 'cpu-load',
    title: `6. Full CPU load for ${s} s on a healthy pgpilot cluster`,
    method: `${r.burners ?? os.availableParallelism()} \`node -e "for(;;);"\` processes (one per core, normal priority) for ${s} s, while the writer inserts as fast as it can. Failovers = new DCS history entries or leader changes seen by polling /cluster once a second.`,
    table: {
      head: ['', 'pgpilot (defaults)', 'target'],
      rows: [
        ['failovers during the load', ok ? String(r.failovers) : `error: ${r.error ?? '?'}`, '0'],
        ['leader changes seen', ok ? (r.leaderChanges?.join('; ') || 'none') : '–', ''],
        ['polls without a leader / polls', ok ? `${r.pollsWithoutLeader} / ${r.polls}` : '–', ''],
        ['longest write gap during the load', seconds(r.gap?.ms), ''],
        ['acknowledged rows / lost', `${r.acked ?? '–'} / ${r.lost ?? '–'}`, ''],
        ['agent RSS before → after the load', (r.agentRss ?? []).map((a) => `${mib(a.startBytes)} → ${mib(a.endBytes)}`).join(', ') || '–', ''],
      ],
    },
    checks: [{ what: `full CPU load (${s} s): zero spurious failovers`, measured: ok ? String(r.failovers) : '–', target: '0', pass: ok ? r.failovers === 0 && r.error === undefined : undefined }],
    notes,
    raw: { ...r },
  };
}
