// Scenario 3, planned switchover: pgpilot through its read-write pooler (one connection, transaction mode) with
// `pgpilot switchover`; Patroni with `patronictl switchover --force` and direct connections. Stall and failed inserts.
import { max, seconds } from '../measure.js';
import { startPatroni } from '../systems/patroni.js';
import { startPgpilot } from '../systems/pgpilot.js';
import type { EventPlan } from './common.js';
import type { HaCluster } from '../cluster.js';
import { patroniTuned } from './node-loss.js';
import { attempt, directWriter, emptyRounds, eventRounds, list, withCluster, type Context, type RoundsResult, type ScenarioResult } from './common.js';

function plan(c: HaCluster): EventPlan {
  return { act: async (leader) => ({ output: await c.switchover(leader) }), expectNewLeader: true, timeoutMs: 120_000 };
}

export async function switchover(ctx: Context): Promise<ScenarioResult> {
  const notes: string[] = [];
  const n = ctx.options.rounds;
  ctx.log('switchover: Patroni tuned');
  const patroni = await attempt(ctx, 'Patroni tuned', () => withCluster(ctx, 'switchover', () => startPatroni({ label: 'Patroni tuned', ...patroniTuned }), (c) =>
    eventRounds(ctx, c, 'switchover', directWriter(c), n, plan(c)), notes), (e) => emptyRounds('Patroni tuned', e));

  ctx.log('switchover: pgpilot');
  let pooled: RoundsResult = emptyRounds('pgpilot, pooler', 'not run');
  let direct: RoundsResult = emptyRounds('pgpilot, direct', 'not run');
  let poolerAvailable = false;
  await attempt(ctx, 'pgpilot', () => withCluster(ctx, 'switchover', () => startPgpilot({ name: 'swo', pooler: true }), async (c) => {
    const target = await c.pooledTarget();
    if (target === undefined) {
      pooled = emptyRounds('pgpilot, pooler', 'not available: `pgpilot connection --json` gives no pooler endpoint');
      ctx.log('switchover: pgpilot pooler not available');
    } else {
      poolerAvailable = true;
      pooled = await attempt(ctx, 'pgpilot, pooler', () => eventRounds(ctx, c, 'switchover(pooler)', { mode: 'pooled', targets: [target], connectTimeoutMs: 5000, queryTimeoutMs: 60_000 }, n, plan(c)),
        (e) => emptyRounds('pgpilot, pooler', e));
    }
    // the same measurement as Patroni's, for comparison: direct connections
    direct = await attempt(ctx, 'pgpilot, direct', () => eventRounds(ctx, c, 'switchover(direct)', directWriter(c), n, plan(c)), (e) => emptyRounds('pgpilot, direct', e));
    pooled.label = 'pgpilot, pooler';
    direct.label = 'pgpilot, direct';
    return { error: undefined as string | undefined };
  }, notes), (e) => {
    pooled = emptyRounds('pgpilot, pooler', e);
    return { error: e };
  });

  const results = [patroni, pooled, direct];
  const worst = (r: RoundsResult): number | undefined => max(r.rounds.map((x) => x.gap.ms));
  const cell = (f: (r: RoundsResult) => string) => results.map((r) => (r.error !== undefined && r.rounds.length === 0 ? (r.error.startsWith('not available') ? 'not available' : `error: ${r.error}`) : f(r)));
  const pgStall = worst(pooled);
  const pgFailed = pooled.rounds.length === 0 ? undefined : pooled.rounds.reduce((a, x) => a + x.failedInserts, 0);
  for (const r of results) if (r.error !== undefined) notes.push(`${r.label}: ${r.error}`);
  for (const r of results) if (r.errors.length > 0) notes.push(`${r.label}: writer errors: ${r.errors.join('; ')}`);
  return {
    id: 'switchover',
    title: '3. Planned switchover',
    method: `${n} switchover(s) per column on a healthy cluster with the writer running. Patroni: \`patronictl switchover --leader L --force\`, the writer on direct connections (reconnecting to whichever member takes writes). pgpilot: \`pgpilot switchover NAME\`, the writer on ONE connection to the read-write pooler (transaction mode): a failed insert is counted and the next one goes through the same connection; only a broken connection is opened again. For comparison, pgpilot is measured with direct connections too (the same method as Patroni). Stall = the longest gap between acknowledged inserts from 1 s before the command to 1 s after the cluster was whole again.`,
    table: {
      head: ['', 'Patroni tuned, direct connections', 'pgpilot, through the pooler', 'pgpilot, direct connections', 'target (pgpilot, pooler)'],
      rows: [
        ['stall: longest write gap (worst round)', ...cell((r) => seconds(worst(r))), '< 1 s'],
        ['stall, each round', ...cell((r) => list(r.rounds, (x) => seconds(x.gap.ms))), ''],
        ['failed inserts (all rounds)', ...cell((r) => String(r.rounds.reduce((a, x) => a + x.failedInserts, 0))), '0'],
        ['connections re-opened (all rounds)', ...cell((r) => String(r.rounds.reduce((a, x) => a + x.reconnects, 0))), ''],
        ['leader after each round', ...cell((r) => list(r.rounds, (x) => `${x.leaderBefore}→${x.leaderAfter ?? '?'}`)), ''],
        ['acknowledged rows / lost', ...cell((r) => `${r.acked} / ${r.lost?.lost ?? '–'}`), ''],
      ],
    },
    checks: [
      { what: 'switchover through the pooler: zero failed transactions', measured: pgFailed === undefined ? (poolerAvailable ? 'error' : 'not available') : String(pgFailed), target: '0', pass: pgFailed === undefined ? undefined : pgFailed === 0 },
      { what: 'switchover through the pooler: stall < 1 s', measured: pgStall === undefined ? (poolerAvailable ? 'error' : 'not available') : `${seconds(pgStall)}${pooled.error === undefined ? '' : ` (${pooled.error})`}`, target: '< 1 s', pass: pgStall === undefined ? undefined : pgStall < 1000 },
    ],
    notes,
    raw: { rounds: n, poolerAvailable, systems: results },
  };
}
