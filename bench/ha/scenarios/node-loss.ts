// Scenario 1, node loss: SIGKILL the primary's agent and postmaster together; the longest write gap until another
// member takes writes (the killed node is then brought back and rejoins). Patroni defaults and tuned, pgpilot defaults.
import { seconds, max, median } from '../measure.js';
import { startPatroni } from '../systems/patroni.js';
import { startPgpilot } from '../systems/pgpilot.js';
import type { HaCluster } from '../cluster.js';
import { attempt, directWriter, emptyRounds, eventRounds, list, withCluster, type Context, type EventPlan, type RoundsResult, type ScenarioResult } from './common.js';

export function nodeLossPlan(c: HaCluster, sync = false): EventPlan {
  return {
    act: async (leader) => ({ killed: await c.killNode(leader) }),
    expectNewLeader: true,
    restore: (leader) => c.restoreNode(leader),
    sync,
    timeoutMs: 120_000,
  };
}

export const patroniDefaults = { ttl: 30, loopWait: 10, retryTimeout: 10 } as const;
export const patroniTuned = { ttl: 10, loopWait: 1, retryTimeout: 3 } as const;

export async function nodeLoss(ctx: Context): Promise<ScenarioResult> {
  const notes: string[] = [];
  const n = ctx.options.rounds;
  const systems: Array<{ label: string; start: () => Promise<HaCluster> }> = [
    { label: 'Patroni defaults', start: () => startPatroni({ label: 'Patroni defaults', ...patroniDefaults }) },
    { label: 'Patroni tuned', start: () => startPatroni({ label: 'Patroni tuned', ...patroniTuned }) },
    { label: 'pgpilot', start: () => startPgpilot({ name: 'nodeloss', restartNever: true }) },
  ];
  const results: RoundsResult[] = [];
  for (const s of systems) {
    ctx.log(`node-loss: ${s.label}`);
    results.push(await attempt(ctx, s.label, () => withCluster(ctx, 'node-loss', s.start, (c) =>
      eventRounds(ctx, c, 'node-loss', directWriter(c), n, nodeLossPlan(c)), notes), (e) => emptyRounds(s.label, e)));
  }
  const completed = (r: RoundsResult): number => r.rounds.filter((x) => x.error === undefined).length;
  const worst = (r: RoundsResult | undefined): number | undefined => max(r?.rounds.map((x) => x.gap.ms) ?? []);
  const [, pt, pp] = results;
  const pgWorst = worst(pp);
  const tunedWorst = worst(pt);
  const cell = (f: (r: RoundsResult) => string) => results.map((r) => (r.error !== undefined && r.rounds.length === 0 ? `error: ${r.error}` : f(r)));
  const rows: string[][] = [
    ['longest write gap (worst round)', ...cell((r) => seconds(worst(r))), '≤ 5 s, and ≤ half of Patroni tuned'],
    ['write gap, each round', ...cell((r) => list(r.rounds, (x) => seconds(x.gap.ms, 1) + (x.gap.open ? ' (no write after)' : ''))), ''],
    ['new leader seen in /cluster after (median)', ...cell((r) => seconds(median(r.rounds.flatMap((x) => (x.newLeaderMs === undefined ? [] : [x.newLeaderMs]))))), ''],
    ['rounds completed (killed member back as a streaming replica)', ...cell((r) => `${completed(r)} of ${n}`), ''],
    ['failed inserts (whole run)', ...cell((r) => String(r.failedInserts)), ''],
    ['acknowledged rows / lost (asynchronous replication)', ...cell((r) => `${r.acked} / ${r.lost?.lost ?? '–'}`), ''],
  ];
  for (const r of results) if (r.error !== undefined) notes.push(`${r.label}: ${r.error}`);
  for (const r of results) if (r.errors.length > 0) notes.push(`${r.label}: writer errors: ${r.errors.join('; ')}`);
  return {
    id: 'node-loss',
    title: '1. Node loss: agent and postmaster of the primary killed -9',
    method: `${n} round(s) per system, each on a healthy cluster of three members with the writer running: SIGKILL the primary's agent (Patroni process) and its postmaster at the same instant; wait for a new leader, start the killed member's agent again, and wait until all three members run and both replicas stream again. The gap is the longest time between two acknowledged inserts from 1 s before the kill to 1 s after the cluster was whole and writing again (so it would also show a disruption caused by the rejoin). pgpilot runs with \`local.restart: never\`, so its supervisor does not restart the killed agent.`,
    table: { head: ['', 'Patroni defaults (ttl 30, loop_wait 10, retry 10)', 'Patroni tuned (ttl 10, loop_wait 1, retry 3)', 'pgpilot (defaults)', 'target'], rows },
    checks: [
      { what: 'node loss: longest write gap ≤ 5 s', measured: `${seconds(pgWorst)}${pp === undefined ? '' : ` (${pp.rounds.length} of ${n} rounds)`}`, target: '≤ 5 s', pass: pgWorst === undefined ? undefined : pgWorst <= 5000 },
      {
        what: 'node loss: pgpilot ≤ half of tuned Patroni (worst rounds)', measured: `${seconds(pgWorst)} vs ${seconds(tunedWorst)}`, target: `≤ ${seconds(tunedWorst === undefined ? undefined : tunedWorst / 2)}`,
        pass: pgWorst === undefined || tunedWorst === undefined ? undefined : pgWorst <= tunedWorst / 2,
      },
      {
        what: 'node loss: every round completes (the killed member rejoins as a streaming replica)', measured: pp === undefined ? '–' : `${completed(pp)} of ${n}`, target: `${n} of ${n}`,
        pass: pp === undefined || pp.rounds.length === 0 ? undefined : completed(pp) === n,
      },
    ],
    notes,
    raw: { rounds: n, systems: results },
  };
}
