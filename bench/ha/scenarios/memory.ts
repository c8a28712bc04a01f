// Scenario 7, agent memory: VmRSS of every agent process (pgpilot agents, Patroni processes) sampled once a second
// from /proc/PID/status while the writer runs on a healthy cluster; peak and last sample per process.
import { sleep } from '../../../src/base/wait.js';
import { mib } from '../measure.js';
import { startPatroni } from '../systems/patroni.js';
import { startPgpilot } from '../systems/pgpilot.js';
import { memoryOf } from '../procs.js';
import { waitHealthy, type HaCluster } from '../cluster.js';
import { startWriter } from '../writer.js';
import { patroniTuned } from './node-loss.js';
import { attempt, directWriter, withCluster, type Context, type ScenarioResult } from './common.js';

interface Sampled {
  name: string;
  pid: number;
  peakRss: number;
  lastRss: number;
  hwm: number;
}

interface MemoryResult {
  label: string;
  error: string | undefined;
  agents?: Sampled[];
  others?: Sampled[];
}

async function sample(ctx: Context, c: HaCluster): Promise<MemoryResult> {
  await waitHealthy(c, { timeoutMs: 120_000 });
  const writer = await startWriter({ ...directWriter(c), table: 'bench_ha' });
  const agents = new Map<number, Sampled>();
  const others = new Map<number, Sampled>();
  const deadline = Date.now() + ctx.options.memorySeconds * 1000;
  try {
    while (Date.now() < deadline) {
      const procs: Array<[Map<number, Sampled>, string, number]> = [
        ...(await c.agentPids()).map((a): [Map<number, Sampled>, string, number] => [agents, a.member, a.pid]),
        ...(await c.otherPids()).map((o): [Map<number, Sampled>, string, number] => [others, o.name, o.pid]),
      ];
      for (const [into, name, pid] of procs) {
        const m = await memoryOf(pid);
        if (m === undefined) continue;
        const s = into.get(pid) ?? { name, pid, peakRss: 0, lastRss: 0, hwm: 0 };
        s.peakRss = Math.max(s.peakRss, m.rss);
        s.lastRss = m.rss;
        s.hwm = m.hwm;
        into.set(pid, s);
      }
      await sleep(1000);
    }
  } finally {
    await writer.stop();
  }
  ctx.log(`memory ${c.label}: ${[...agents.values()].map((a) => `${a.name} ${mib(a.peakRss)}`).join(', ')}`);
  return { label: c.label, error: undefined, agents: [...agents.values()], others: [...others.values()] };
}

export async function memory(ctx: Context): Promise<ScenarioResult> {
  const notes: string[] = [];
  const systems: Array<{ label: string; start: () => Promise<HaCluster> }> = [
    { label: 'Patroni tuned', start: () => startPatroni({ label: 'Patroni tuned', ...patroniTuned }) },
    { label: 'pgpilot', start: () => startPgpilot({ name: 'mem' }) },
  ];
  const results: MemoryResult[] = [];
  for (const s of systems) {
    ctx.log(`memory: ${s.label}`);
    results.push(await attempt(ctx, s.label, () => withCluster(ctx, 'memory', s.start, (c) => sample(ctx, c), notes), (e): MemoryResult => ({ label: s.label, error: e })));
  }
  const peak = (r: MemoryResult | undefined): number | undefined => (r?.agents === undefined || r.agents.length === 0 ? undefined : Math.max(...r.agents.map((a) => a.peakRss)));
  const cell = (f: (r: MemoryResult) => string) => results.map((r) => (r.agents === undefined ? `error: ${r.error ?? '?'}` : f(r)));
  const pp = results[1];
  const pgPeak = peak(pp);
  for (const r of results) if (r.error !== undefined) notes.push(`${r.label}: ${r.error}`);
  return {
    id: 'memory',
    title: '7. Agent memory',
    method: `A healthy three-member cluster with the writer running for ${ctx.options.memorySeconds} s; VmRSS of each agent process (pgpilot \`agent\`, Patroni's \`patroni\`) read from /proc/PID/status once a second. Peak = the highest sample; VmHWM = the kernel's peak since the process started.`,
    table: {
      head: ['', 'Patroni tuned', 'pgpilot (defaults)', 'target (pgpilot)'],
      rows: [
        ['agent RSS, highest sample of any agent', ...cell((r) => mib(peak(r))), '≤ 60 MiB'],
        ['each agent: peak sample (VmHWM)', ...cell((r) => (r.agents ?? []).map((a) => `${a.name} ${mib(a.peakRss)} (${mib(a.hwm)})`).join(', ')), ''],
        ['other processes (peak sample)', ...cell((r) => (r.others ?? []).map((a) => `${a.name} ${mib(a.peakRss)}`).join(', ') || '–'), ''],
      ],
    },
    checks: [{ what: 'agent RSS ≤ 60 MiB', measured: mib(pgPeak), target: '≤ 60 MiB', pass: pgPeak === undefined ? undefined : pgPeak <= 60 * 1048576 }],
    notes,
    raw: { seconds: ctx.options.memorySeconds, systems: results },
  };
}
