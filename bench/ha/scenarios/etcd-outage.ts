// Scenario 4, DCS outage: freeze etcd (SIGSTOP) for 30 s on a healthy cluster with the writer running; the write gap
// and whether a failover happened. Patroni tuned (failsafe_mode off, its default) and pgpilot defaults.
import { signalPid } from '../../../src/runner/processes.js';
import { sleep } from '../../../src/base/wait.js';
import { seconds } from '../measure.js';
import { startPatroni } from '../systems/patroni.js';
import { startPgpilot } from '../systems/pgpilot.js';

import { clusterView, historyLength, waitHealthy, type HaCluster } from '../cluster.js';
import { patroniTuned } from './node-loss.js';
import { attempt, directWriter, errorMessage, errorsIn, withCluster, windowFigures, type Context, type ScenarioResult } from './common.js';
import { startWriter } from '../writer.js';
import type { Gap } from '../measure.js';

interface OutageResult {
  label: string;
  error: string | undefined;
  leaderBefore?: string | undefined;
  leaderAfter?: string | undefined;
  timelineBefore?: number | undefined;
  timelineAfter?: number | undefined;
  historyBefore?: number | undefined;
  historyAfter?: number | undefined;
  /** Leaders seen by polling /cluster every 500 ms from the freeze to the end (answers during the freeze may be stale). */
  leadersSeen?: string[];
  failover?: boolean;
  gap?: Gap;
  failedInserts?: number;
  reconnects?: number;
  writerErrors?: string[];
  frozenMs?: number;
}

async function outage(ctx: Context, c: HaCluster): Promise<OutageResult> {
  const before = await waitHealthy(c, { timeoutMs: 120_000 });
  const r: OutageResult = { label: c.label, error: undefined, leaderBefore: before.leader?.name, timelineBefore: before.leader?.timeline };
  r.historyBefore = await historyLength(c);
  const writer = await startWriter({ ...directWriter(c), table: 'bench_ha' });
  await sleep(2000);
  const etcd = await c.dcsPid();
  const leadersSeen = new Set<string>();
  let polling = true;
  const poll = (async () => {
    while (polling) {
      const v = await clusterView(c, 400).catch(() => undefined);
      if (v?.leader !== undefined) leadersSeen.add(v.leader.name);
      await sleep(500);
    }
  })();
  const frozenAt = Date.now();
  signalPid(etcd, 'SIGSTOP');
  ctx.log(`etcd-outage ${c.label}: etcd ${etcd} frozen`);
  try {
    await sleep(ctx.options.etcdSeconds * 1000);
  } finally {
    signalPid(etcd, 'SIGCONT');
  }
  r.frozenMs = Date.now() - frozenAt;
  ctx.log(`etcd-outage ${c.label}: etcd continued after ${r.frozenMs} ms`);
  let end: number;
  try {
    await sleep(2000);
    const after = await waitHealthy(c, { timeoutMs: 120_000 });
    // late effects (an election after the lease expired) show up within a few loops
    await sleep(5000);
    await writer.ackedAfter(Date.now(), 30_000);
    r.leaderAfter = after.leader?.name;
    const now = await waitHealthy(c, { timeoutMs: 60_000 });
    r.leaderAfter = now.leader?.name;
    r.timelineAfter = now.leader?.timeline;
  } catch (e) {
    r.error = errorMessage(e);
  }
  end = Date.now();
  polling = false;
  await poll;
  const log = await writer.stop();
  end = Math.min(end, log.stoppedAt);
  Object.assign(r, windowFigures(log, frozenAt - 1000, end, frozenAt));
  r.writerErrors = errorsIn(log, frozenAt - 1000, end);
  r.historyAfter = await historyLength(c).catch(() => undefined);
  r.leadersSeen = [...leadersSeen];
  r.failover = r.leaderAfter !== r.leaderBefore || (r.timelineAfter ?? 0) !== (r.timelineBefore ?? 0) || (r.historyAfter ?? 0) > (r.historyBefore ?? 0);
  ctx.log(`etcd-outage ${c.label}: gap ${r.gap?.ms} ms, failover ${r.failover}, ${r.leaderBefore} -> ${r.leaderAfter}`);
  return r;
}

export async function etcdOutage(ctx: Context): Promise<ScenarioResult> {
  const notes: string[] = [];
  const systems: Array<{ label: string; start: () => Promise<HaCluster> }> = [
    { label: 'Patroni tuned', start: () => startPatroni({ label: 'Patroni tuned', ...patroniTuned }) },
    { label: 'pgpilot', start: () => startPgpilot({ name: 'etcd' }) },
  ];
  const results: OutageResult[] = [];
  for (const s of systems) {
    ctx.log(`etcd-outage: ${s.label}`);
    results.push(await attempt(ctx, s.label, () => withCluster(ctx, 'etcd-outage', s.start, (c) => outage(ctx, c), notes), (e): OutageResult => ({ label: s.label, error: e })));
  }
  const cell = (f: (r: OutageResult) => string) => results.map((r) => (r.gap === undefined ? `error: ${r.error ?? '?'}` : f(r)));
  const pp = results[1];
  for (const r of results) if (r.error !== undefined) notes.push(`${r.label}: ${r.error}`);
  for (const r of results) if ((r.writerErrors ?? []).length > 0) notes.push(`${r.label}: writer errors: ${(r.writerErrors ?? []).join('; ')}`);
  const s = ctx.options.etcdSeconds;
  return {
    id: 'etcd-outage',
    title: `4. etcd frozen (SIGSTOP) for ${s} s, all members healthy`,
    method: `On a healthy cluster with the writer running, SIGSTOP the etcd process for ${s} s, then SIGCONT; wait until the cluster is whole again and 5 s more. Gap from 1 s before the freeze to the end. A failover is a change of leader or timeline, or a new DCS history entry. Patroni runs with its default \`failsafe_mode: off\`; pgpilot always has failsafe on.`,
    table: {
      head: ['', 'Patroni tuned (ttl 10, loop_wait 1, retry 3)', 'pgpilot (defaults)', 'target'],
      rows: [
        ['longest write gap', ...cell((r) => seconds(r.gap?.ms) + (r.gap?.open === true ? ' (no write after)' : '')), '≤ 1 s'],
        ['gap began after the freeze', ...cell((r) => seconds(r.gap?.startedAfterEventMs)), ''],
        ['failover happened', ...cell((r) => (r.failover === true ? `yes (${r.leaderBefore} → ${r.leaderAfter ?? '?'}, timeline ${r.timelineBefore ?? '?'} → ${r.timelineAfter ?? '?'})` : 'no')), 'no'],
        ['failed inserts', ...cell((r) => String(r.failedInserts ?? '–')), ''],
        ['leaders seen in /cluster', ...cell((r) => (r.leadersSeen ?? []).join(', ') || '–'), ''],
      ],
    },
    checks: [
      { what: 'etcd outage: no write gap (≤ 1 s)', measured: seconds(pp?.gap?.ms), target: '≤ 1 s', pass: pp?.gap === undefined ? undefined : pp.gap.ms <= 1000 },
      { what: 'etcd outage: no failover', measured: pp?.failover === undefined ? '–' : pp.failover ? 'failover' : 'none', target: 'none', pass: pp?.failover === undefined ? undefined : !pp.failover },
    ],
    notes,
    raw: { seconds: s, systems: results },
  };
}
