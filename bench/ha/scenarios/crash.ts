// Scenario 2, postgres crash: SIGKILL the primary's postmaster while its agent stays alive; the write gap until the
// cluster takes writes again (expected: a restart in place, no failover). Patroni tuned and pgpilot defaults.
import { max, median, seconds } from '../measure.js';
import { startPatroni } from '../systems/patroni.js';
import { startPgpilot } from '../systems/pgpilot.js';
import type { HaCluster } from '../cluster.js';
import { patroniTuned } from './node-loss.js';
import { attempt, directWriter, emptyRounds, eventRounds, list, withCluster, type Context, type RoundsResult, type ScenarioResult } from './common.js';

export async function crash(ctx: Context): Promise<ScenarioResult> {
  const notes: string[] = [];
  const n = ctx.options.rounds;
  const systems: Array<{ label: string; start: () => Promise<HaCluster> }> = [
    { label: 'Patroni tuned', start: () => startPatroni({ label: 'Patroni tuned', ...patroniTuned }) },
    { label: 'pgpilot', start: () => startPgpilot({ name: 'crash' }) },
  ];
  const results: RoundsResult[] = [];
  for (const s of systems) {
    ctx.log(`crash: ${s.label}`);
    results.push(await attempt(ctx, s.label, () => withCluster(ctx, 'crash', s.start, (c) =>
      eventRounds(ctx, c, 'crash', directWriter(c), n, {
        act: async (leader) => ({ killed: [await c.crashPostgres(leader)] }),
        expectNewLeader: false,
        settleMs: 3000,
        timeoutMs: 120_000,
      }), notes), (e) => emptyRounds(s.label, e)));
  }
  const worst = (r: RoundsResult | undefined): number | undefined => max(r?.rounds.map((x) => x.gap.ms) ?? []);
  const failovers = (r: RoundsResult): number => r.rounds.filter((x) => x.leaderAfter !== x.leaderBefore).length;
  const newTimelines = (r: RoundsResult): number => r.rounds.filter((x) => x.timelineAfter !== x.timelineBefore).length;
  const cell = (f: (r: RoundsResult) => string) => results.map((r) => (r.error !== undefined && r.rounds.length === 0 ? `error: ${r.error}` : f(r)));
  const pp = results[1];
  const pgWorst = worst(pp);
  for (const r of results) if (r.error !== undefined) notes.push(`${r.label}: ${r.error}`);
  for (const r of results) if (r.errors.length > 0) notes.push(`${r.label}: writer errors: ${r.errors.join('; ')}`);
  return {
    id: 'crash',
    title: "2. PostgreSQL crash: the primary's postmaster killed -9, its agent alive",
    method: `${n} round(s) per system: SIGKILL the primary's postmaster only; wait 3 s, then until all three members run and both replicas stream again. Gap as in scenario 1. The table also says whether another member took over and whether the primary came back on a new timeline (Patroni 3.0.2 restarts a crashed leader read-only for crash recovery, then promotes it).`,
    table: {
      head: ['', 'Patroni tuned (ttl 10, loop_wait 1, retry 3)', 'pgpilot (defaults)', 'target'],
      rows: [
        ['longest write gap (worst round)', ...cell((r) => seconds(worst(r))), '≤ 2 s'],
        ['write gap, each round', ...cell((r) => list(r.rounds, (x) => seconds(x.gap.ms, 1) + (x.gap.open ? ' (no write after)' : ''))), ''],
        ['median gap', ...cell((r) => seconds(median(r.rounds.map((x) => x.gap.ms)))), ''],
        ['rounds in which another member took over', ...cell((r) => `${failovers(r)} of ${r.rounds.length}`), ''],
        ['rounds that ended on a new timeline', ...cell((r) => `${newTimelines(r)} of ${r.rounds.length}`), ''],
        ['acknowledged rows / lost', ...cell((r) => `${r.acked} / ${r.lost?.lost ?? '–'}`), ''],
      ],
    },
    checks: [{ what: 'postgres crash: write gap ≤ 2 s', measured: `${seconds(pgWorst)}${pp?.error === undefined ? '' : ` (${pp.error})`}`, target: '≤ 2 s', pass: pgWorst === undefined ? undefined : pgWorst <= 2000 }],
    notes,
    raw: { rounds: n, systems: results },
  };
}
