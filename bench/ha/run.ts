// `npm run bench:ha`: runs the HA scenarios against Patroni 3.0.2 and pgpilot side by side, one after the other, and
// writes bench/results/ha.md and ha.json. Flags: see --help.
import { execFile } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { writeReport, type RunReport } from './report.js';
import { patroniBase, patroniUnavailable } from './systems/patroni.js';
import { findProcesses } from './procs.js';
import { errorMessage, type Context, type Options, type ScenarioResult } from './scenarios/common.js';
import { nodeLoss } from './scenarios/node-loss.js';
import { crash } from './scenarios/crash.js';
import { switchover } from './scenarios/switchover.js';
import { etcdOutage } from './scenarios/etcd-outage.js';
import { syncFailovers } from './scenarios/sync-failovers.js';
import { cpuLoad } from './scenarios/cpu-load.js';
import { memory } from './scenarios/memory.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

const scenarios: Array<{ id: string; aliases: string[]; run: (ctx: Context) => Promise<ScenarioResult> }> = [
  { id: 'node-loss', aliases: ['nodeloss'], run: nodeLoss },
  { id: 'crash', aliases: [], run: crash },
  { id: 'switchover', aliases: [], run: switchover },
  { id: 'etcd-outage', aliases: ['etcd'], run: etcdOutage },
  { id: 'sync-failovers', aliases: ['sync'], run: syncFailovers },
  { id: 'cpu-load', aliases: ['cpu'], run: cpuLoad },
  { id: 'memory', aliases: ['mem', 'rss'], run: memory },
];

const help = `usage: node dist/bench/ha/run.js [flags]   (npm run bench:ha -- [flags])

  --only LIST          comma-separated scenarios (default: all): ${scenarios.map((s) => s.id).join(', ')}
  --rounds N           measured events per system in node-loss, crash and switchover (default 3)
  --cpu-seconds N      duration of the full CPU load (default 600)
  --sync-failovers N   node-loss failovers in synchronous mode (default 20)
  --patroni-sync       also run the synchronous failovers on Patroni tuned with synchronous_mode
  --etcd-seconds N     how long etcd stays frozen (default 30)
  --memory-seconds N   how long agent memory is sampled (default 30)
  --out DIR            where ha.md and ha.json go (default bench/results)
  --logs DIR           where the clusters' logs are copied (default a new directory under ${os.tmpdir()})

Needs root (Patroni runs as the postgres user via su, as the anchors do), PostgreSQL 15, etcd, pgbouncer, Patroni,
and ../shared/anchors/patroni-up.sh beside the checkout (or PGPILOT_ANCHORS=DIR). Patroni uses the fixed loopback
ports 2379-2380, 5431-5433 and 8001-8003; pgpilot picks free ports.`;

function positive(name: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} wants a positive integer, not "${v}"`);
  return n;
}

function options(argv: string[]): Options | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      only: { type: 'string' }, rounds: { type: 'string' }, 'cpu-seconds': { type: 'string' }, 'sync-failovers': { type: 'string' },
      'patroni-sync': { type: 'boolean' }, 'etcd-seconds': { type: 'string' }, 'memory-seconds': { type: 'string' },
      out: { type: 'string' }, logs: { type: 'string' }, help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help === true) return undefined;
  const only = (values.only ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '').map((s) => {
    const found = scenarios.find((x) => x.id === s || x.aliases.includes(s));
    if (found === undefined) throw new Error(`unknown scenario "${s}" (known: ${scenarios.map((x) => x.id).join(', ')})`);
    return found.id;
  });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  return {
    only,
    rounds: positive('rounds', values.rounds, 3),
    cpuSeconds: positive('cpu-seconds', values['cpu-seconds'], 600),
    syncFailovers: positive('sync-failovers', values['sync-failovers'], 20),
    patroniSync: values['patroni-sync'] === true,
    etcdSeconds: positive('etcd-seconds', values['etcd-seconds'], 30),
    memorySeconds: positive('memory-seconds', values['memory-seconds'], 30),
    out: path.resolve(values.out ?? path.join(repo, 'bench', 'results')),
    logs: path.resolve(values.logs ?? path.join(os.tmpdir(), `pgpilot-bench-logs-${stamp}`)),
  };
}

async function firstLine(cmd: string, args: string[]): Promise<string> {
  try {
    const r = await promisify(execFile)(cmd, args, { timeout: 20_000, cwd: repo });
    return (r.stdout.trim() || r.stderr.trim()).split('\n')[0] ?? '?';
  } catch (e) {
    return `unavailable (${errorMessage(e).split('\n')[0] ?? ''})`;
  }
}

async function versions(): Promise<Record<string, string>> {
  const commit = await firstLine('git', ['rev-parse', '--short=12', 'HEAD']);
  const dirty = (await promisify(execFile)('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: repo }).then((r) => r.stdout, () => ''))
    .split('\n').filter((l) => l.trim() !== '').length;
  return {
    pgpilot: `${commit}${dirty > 0 ? ` with uncommitted changes to ${dirty} tracked file(s)` : ''}`,
    PostgreSQL: (await firstLine('/usr/lib/postgresql/15/bin/postgres', ['--version'])).replace(/^postgres \(PostgreSQL\) /, ''),
    etcd: (await firstLine('etcd', ['--version'])).replace(/^etcd Version: /, ''),
    Patroni: (await firstLine('patroni', ['--version'])).replace(/^patroni /, ''),
    pgbouncer: (await firstLine('pgbouncer', ['--version'])).replace(/^PgBouncer /, ''),
    Node: process.version,
  };
}

async function main(): Promise<number> {
  let opts: Options | undefined;
  try {
    opts = options(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`bench: ${errorMessage(e)}\n\n${help}\n`);
    return 2;
  }
  if (opts === undefined) {
    process.stdout.write(`${help}\n`);
    return 0;
  }
  const t0 = Date.now();
  const ctx: Context = {
    options: opts,
    log: (msg) => process.stdout.write(`[bench +${((Date.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${msg}\n`),
    cleanups: new Set(),
    settings: {},
    starts: [],
  };
  let interrupted = false;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (interrupted) return;
    interrupted = true;
    ctx.log(`${sig}: stopping every cluster the benchmark started`);
    void Promise.allSettled([...ctx.cleanups].map((c) => c())).then(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  if (process.getuid?.() !== 0) ctx.log('warning: not root: Patroni cannot be started (patroni-up.sh uses su and chown)');
  const patroni = await patroniUnavailable();
  if (patroni !== undefined) ctx.log(`warning: Patroni unavailable: ${patroni}`);
  ctx.log(`logs of every cluster go to ${opts.logs}`);

  const selected = scenarios.filter((s) => opts.only.length === 0 || opts.only.includes(s.id));
  const results: ScenarioResult[] = [];
  const failures: RunReport['failures'] = [];
  const startedAt = new Date();
  for (const s of selected) {
    ctx.log(`=== ${s.id}`);
    try {
      results.push(await s.run(ctx));
    } catch (e) {
      ctx.log(`${s.id} FAILED: ${errorMessage(e)}`);
      failures.push({ id: s.id, error: errorMessage(e) });
    }
  }
  // nothing of the benchmark's may outlive it
  const left = [...await findProcesses('pgpilot-bench-'), ...await findProcesses(patroniBase)].filter((p) => !p.argv.join(' ').includes('bench/ha/run.js'));
  if (left.length > 0) {
    const lines = left.map((p) => `${p.pid} ${p.argv.join(' ')}`);
    ctx.log(`processes left behind: ${lines.join('; ')}`);
    failures.push({ id: 'cleanup', error: `processes left behind: ${lines.join('; ')}` });
  }
  const finishedAt = new Date();
  const report: RunReport = {
    environment: {
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      durationSeconds: Math.round((finishedAt.getTime() - startedAt.getTime()) / 1000),
      command: ['npm run bench:ha', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' '),
      machine: {
        cpus: os.availableParallelism(),
        cpuModel: os.cpus()[0]?.model ?? '?',
        memoryGiB: Math.round(os.totalmem() / 2 ** 30),
        kernel: os.release(),
      },
      versions: await versions(),
    },
    options: opts,
    settings: ctx.settings,
    starts: ctx.starts,
    scenarios: results,
    failures,
  };
  const files = await writeReport(report, opts.out);
  ctx.log(`wrote ${files.md} and ${files.json}`);
  for (const c of results.flatMap((r) => r.checks)) ctx.log(`${c.pass === undefined ? 'NOT MEASURED' : c.pass ? 'PASS' : 'FAIL'}  ${c.what}: ${c.measured}`);
  return failures.length > 0 ? 1 : 0;
}

process.exitCode = await main();
