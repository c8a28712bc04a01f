// Writes the run's results: bench/results/ha.md (environment, settings, a summary of the targets, one table per
// scenario) and bench/results/ha.json (every raw figure the tables were made from).
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Context, Options, ScenarioResult } from './scenarios/common.js';

export interface Environment {
  startedAt: string;
  finishedAt: string;
  durationSeconds: number;
  command: string;
  machine: { cpus: number; cpuModel: string; memoryGiB: number; kernel: string };
  versions: Record<string, string>;
}

export interface RunReport {
  environment: Environment;
  options: Options;
  settings: Record<string, Record<string, unknown>>;
  starts: Context['starts'];
  scenarios: ScenarioResult[];
  /** Scenarios that threw (a bug in the benchmark or a cluster that never came up). */
  failures: Array<{ id: string; error: string }>;
}

const esc = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function table(head: string[], rows: string[][]): string {
  return [`| ${head.map(esc).join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`)].join('\n');
}

function verdict(pass: boolean | undefined): string {
  return pass === undefined ? 'NOT MEASURED' : pass ? 'PASS' : 'FAIL';
}

const settingKeys = ['ttl', 'loop_wait', 'retry_timeout', 'maximum_lag_on_failover', 'synchronous_mode', 'synchronous_mode_strict', 'failsafe_mode'];

function settingsTable(settings: Record<string, Record<string, unknown>>): string {
  const labels = Object.keys(settings);
  if (labels.length === 0) return '(no cluster started)';
  const value = (v: unknown): string => (v === undefined ? '(default)' : typeof v === 'string' ? v : JSON.stringify(v));
  const rows = settingKeys.map((k) => [k, ...labels.map((l) => value(settings[l]?.[k]))]);
  const pgOf = (l: string): Record<string, unknown> => ((settings[l]?.['postgresql'] as Record<string, unknown> | undefined) ?? {});
  rows.push(['postgresql.use_pg_rewind', ...labels.map((l) => value(pgOf(l)['use_pg_rewind']))]);
  rows.push(['postgresql.parameters', ...labels.map((l) => value(pgOf(l)['parameters']))]);
  return table(['dynamic configuration (GET /config)', ...labels], rows);
}

export function renderMarkdown(r: RunReport): string {
  const e = r.environment;
  const checks = r.scenarios.flatMap((s) => s.checks.map((c) => ({ ...c, scenario: s.title })));
  const out: string[] = [
    '# High availability: pgpilot and Patroni 3.0.2, side by side',
    '',
    `Written by \`npm run bench:ha\` (\`${e.command}\`); every figure below comes from this one run. Raw numbers: [ha.json](ha.json).`,
    '',
    `- date: ${e.startedAt} to ${e.finishedAt} (${Math.round(e.durationSeconds / 60)} min)`,
    `- machine: ${e.machine.cpus} CPUs (${e.machine.cpuModel}), ${e.machine.memoryGiB} GiB memory, Linux ${e.machine.kernel}; both systems on loopback, one after the other`,
    `- versions: ${Object.entries(e.versions).map(([k, v]) => `${k} ${v}`).join('; ')}`,
    `- options: rounds ${r.options.rounds}, CPU load ${r.options.cpuSeconds} s, synchronous failovers ${r.options.syncFailovers}${r.options.patroniSync ? ' (Patroni too)' : ' (pgpilot only)'}, etcd freeze ${r.options.etcdSeconds} s, memory sampling ${r.options.memorySeconds} s${r.options.only.length > 0 ? `, only: ${r.options.only.join(', ')}` : ''}`,
    '',
    '**The writer** (bench/ha/writer.ts, the same code for both systems, in its own thread): inserts one row per',
    'transaction (`INSERT INTO bench_ha (id) VALUES ($1)`, ids increasing, never retried) as fast as it can and records',
    'the time of every acknowledgement. On direct connections it reconnects after any error to whichever member accepts',
    'writes (it connects to all three at once and keeps the first where `pg_is_in_recovery()` is false). Through the',
    'pooler it keeps one connection. **Write gap** = the longest time between two consecutive acknowledged inserts in',
    'the measured window. **Lost** = acknowledged ids absent on the final primary.',
    '',
    'Patroni is started by `../shared/anchors/patroni-up.sh TTL LOOP_WAIT RETRY_TIMEOUT SYNC` (one etcd 3.4, three',
    'members, run as the postgres user); pgpilot by `pgpilot up --detach` in a temporary PGPILOT_HOME on free ports.',
    'Each scenario gets fresh clusters, stopped completely before the next one starts.',
    '',
    '## Settings',
    '',
    settingsTable(r.settings),
    '',
    '"(default)": not in the DCS config, so the system\'s default applies: for Patroni 3.0.2 `maximum_lag_on_failover`',
    '1 MiB, `synchronous_mode_strict` false, `failsafe_mode` false; pgpilot always runs with failsafe on. pgpilot runs',
    'with `local.restart: never` in the node-loss and synchronous scenarios (so a killed agent stays dead until the',
    'benchmark starts it again), and with `pooler: {enabled: true, mode: transaction}` in the switchover scenario.',
    'Both systems get the PostgreSQL parameters of patroni-up.sh; everything else is PostgreSQL 15\'s default.',
    '',
    '## Targets',
    '',
    table(['target', 'pgpilot measured', 'target value', 'result'], checks.map((c) => [c.what, c.measured, c.target, `**${verdict(c.pass)}**`])),
    '',
  ];
  if (r.failures.length > 0) {
    out.push('## Scenarios that did not run to the end', '', ...r.failures.map((f) => `- ${f.id}: ${f.error}`), '');
  }
  if (r.starts.length > 0) {
    const labels = [...new Set(r.starts.map((s) => s.label))];
    out.push('## Cluster start (informational)', '', 'Seconds from the start command (`patroni-up.sh`, `pgpilot up --detach`) until one primary and two streaming replicas, for every cluster of this run (patroni-up.sh pauses 4 s after starting its first member):', '',
      table(['system', 'seconds'], labels.map((l) => [l, r.starts.filter((s) => s.label === l).map((s) => s.seconds.toFixed(1)).join(', ')])), '');
  }
  for (const s of r.scenarios) {
    out.push(`## ${s.title}`, '', s.method, '', table(s.table.head, s.table.rows), '');
    if (s.notes.length > 0) out.push('Notes:', '', ...s.notes.map((n) => `- ${n}`), '');
  }
  return out.join('\n');
}

export async function writeReport(r: RunReport, dir: string): Promise<{ md: string; json: string }> {
  await fs.mkdir(dir, { recursive: true });
  const md = path.join(dir, 'ha.md');
  const json = path.join(dir, 'ha.json');
  await fs.writeFile(md, renderMarkdown(r));
  await fs.writeFile(json, JSON.stringify(r, (_k, v: unknown) => (v instanceof Float64Array ? `[${v.length} values]` : v), 2) + '\n');
  return { md, json };
}
