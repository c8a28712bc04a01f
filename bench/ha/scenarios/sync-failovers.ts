// Scenario 5, synchronous mode: repeated node-loss failovers with the writer running throughout; acknowledged rows
// missing on the final primary. pgpilot with `synchronous: {mode: on}`; Patroni tuned with synchronous_mode if asked.
import { max, median, seconds } from '../measure.js';
import { startPatroni } from '../systems/patroni.js';
import { startPgpilot } from '../systems/pgpilot.js';
import type { HaCluster } from '../cluster.js';
import { nodeLossPlan, patroniTuned } from './node-loss.js';
import { attempt, directWriter, emptyRounds, eventRounds, withCluster, type Context, type RoundsResult, type ScenarioResult } from './common.js';

export async function syncFailovers(ctx: Context): Promise<ScenarioResult> {
  const notes: string[] = [];
  const n = ctx.options.syncFailovers;
  const systems: Array<{ label: string; start: () => Promise<HaCluster> }> = [
    ...(ctx.options.patroniSync ? [{ label: 'Patroni tuned, synchronous_mode', start: () => startPatroni({ label: 'Patroni tuned, synchronous_mode', ...patroniTuned, sync: true }) }] : []),
    { label: 'pgpilot, synchronous on', start: () => startPgpilot({ name: 'sync', label: 'pgpilot, synchronous on', restartNever: true, sync: true }) },
  ];
  const results: RoundsResult[] = [];
  for (const s of systems) {
    ctx.log(`sync-failovers: ${s.label}`);
    results.push(await attempt(ctx, s.label, () => withCluster(ctx, 'sync-failovers', s.start, (c) =>
      eventRounds(ctx, c, 'sync-failovers', directWriter(c), n, nodeLossPlan(c, true)), notes), (e) => emptyRounds(s.label, e)));
  }
  if (!ctx.options.patroniSync) results.unshift(emptyRounds('Patroni tuned, synchronous_mode', 'not run (add --patroni-sync)'));
  const done = (r: RoundsResult): number => r.rounds.filter((x) => x.error === undefined).length;
  const cell = (f: (r: RoundsResult) => string) => results.map((r) => (r.rounds.length === 0 ? (r.error?.startsWith('not run') === true ? r.error : `error: ${r.error ?? '?'}`) : f(r)));
  const pp = results[1];
  const lost = pp?.lost?.lost;
  for (const r of results) if (r.error !== undefined && r.rounds.length > 0) notes.push(`${r.label}: ${r.error}`);
  for (const r of results) if (r.errors.length > 0) notes.push(`${r.label}: writer errors: ${r.errors.join('; ')}`);
  for (const r of results) if ((r.lost?.lost ?? 0) > 0) notes.push(`${r.label}: first lost ids: ${r.lost?.firstLost.join(', ')}`);
  return {
    id: 'sync-failovers',
    title: `5. ${n} node-loss failovers in synchronous mode: acknowledged rows lost`,
    method: `One cluster per system, the writer running throughout; ${n} rounds of scenario 1's node loss (SIGKILL agent and postmaster of the primary, bring the node back), each starting only once all members stream, one standby is synchronous (pg_stat_replication.sync_state = 'sync') and the DCS names it (role \`sync_standby\` in /cluster), so that a failover is allowed. At the end, every acknowledged id is looked up on the final primary.`,
    table: {
      head: ['', 'Patroni tuned, synchronous_mode: true', 'pgpilot, synchronous: {mode: on}', 'target (pgpilot)'],
      rows: [
        ['failovers (a new leader took over)', ...cell((r) => `${r.rounds.filter((x) => x.newLeaderMs !== undefined).length} of ${n}`), String(n)],
        ['rounds completed (all three members streaming again)', ...cell((r) => `${done(r)} of ${n}`), String(n)],
        ['acknowledged rows', ...cell((r) => String(r.acked)), ''],
        ['acknowledged rows lost', ...cell((r) => String(r.lost?.lost ?? '–')), '0'],
        ['write gap per failover: worst / median', ...cell((r) => `${seconds(max(r.rounds.map((x) => x.gap.ms)))} / ${seconds(median(r.rounds.map((x) => x.gap.ms)))}`), ''],
      ],
    },
    checks: [
      { what: `synchronous mode: zero lost acknowledged rows over ${n} failovers`, measured: lost === undefined ? '–' : `${lost} lost, ${pp === undefined ? 0 : done(pp)} of ${n} rounds completed${pp?.error === undefined ? '' : ` (${pp.error})`}`, target: '0', pass: lost === undefined || pp === undefined ? undefined : lost === 0 && done(pp) === n },
    ],
    notes,
    raw: { failovers: n, systems: results },
  };
}
