// `npm run bench:restore`: pgpilot's restore and point-in-time recovery against pgBackRest 2.45's; flags: --help.
import fsp from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { parseLsn } from '../../src/model/lsn.js';
import { needs, positive, repoRoot, runBench, type RunContext } from '../backup/harness.js';
import { destroyCluster } from '../backup/pgpilot.js';
import type { BackupRun } from '../backup/runs.js';
import { dropCaches } from '../backup/sample.js';
import { setUp } from '../backup/setup.js';
import { waitArchived } from '../backup/workload.js';
import { pgbackrestPitr, pgpilotPitr } from './recovery.js';
import { targetChecks, writeReport, type Options, type RestoreResults } from './report.js';
import { copyArchive, loadUntil } from './wal.js';

const help = `usage: node dist/bench/restore/run.js [flags]   (npm run bench:restore -- [flags])

  --scale N           pgbench scale of the database (default $BENCH_SCALE, else 200: about 3 GB)
  --wal-mb N          MB of WAL the pgbench load writes after the backups, which the point-in-time recovery replays
                      (default $BENCH_WAL_MB, else 1024)
  --out DIR           where restore.md and restore.json go (default $BENCH_OUT, else bench/results)
  --skip-pgbackrest   measure pgpilot alone (the ratio targets are then not measured)

${needs(20, 12)}`;

function options(argv: string[]): Options | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      scale: { type: 'string' }, 'wal-mb': { type: 'string' }, out: { type: 'string' },
      'skip-pgbackrest': { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help === true) return undefined;
  const env = process.env;
  return {
    scale: positive('scale', values.scale ?? env['BENCH_SCALE'], 200),
    walMb: positive('wal-mb', values['wal-mb'] ?? env['BENCH_WAL_MB'], 1024),
    out: path.resolve(values.out ?? env['BENCH_OUT'] ?? path.join(repoRoot, 'bench', 'results')),
    skipPgbackrest: values['skip-pgbackrest'] === true,
  };
}

/** The LSN a backup started at, from the tool's own figures (pgpilot startLsn; pgBackRest lsn.start). */
function startLsn(run: BackupRun): string {
  const v = run.reported['startLsn'] ?? (run.reported['lsn'] as { start?: unknown } | undefined)?.start;
  if (typeof v !== 'string') throw new Error(`backup ${run.label} reports no start LSN`);
  return v;
}

async function run(ctx: RunContext<RestoreResults>, opts: Options): Promise<number | void> {
  const { r, base, log, step, timed, atCleanup } = ctx;
  const sides = await setUp(ctx, opts, 'rbench');
  if (sides === undefined) return 1;
  const { p, b } = sides;
  const t = p.target;
  const pFull = r.full.pgpilot;
  const bFull = r.full.pgbackrest;
  if (pFull === undefined) return 1;

  const load = r.load = await step(`pgbench until ${opts.walMb} MB of WAL are written; the target LSN`, () => loadUntil(t, opts.walMb * 1e6, log));
  if (load === undefined) return 1;
  // From here on the source is stopped: only the repositories are used.
  if (await step('pg_switch_wal(), pgpilot\'s archive caught up; pgpilot down (data kept)', async () => {
    await waitArchived(t);
    await p.stop();
    return true;
  }) === undefined) return 1;
  if (b !== undefined && bFull !== undefined) {
    const starts = [startLsn(pFull), startLsn(bFull)].sort((x, y) => (parseLsn(x) < parseLsn(y) ? -1 : 1));
    r.archiveCopy = await step('the same archived WAL into pgBackRest\'s repository: fetched from pgpilot\'s, archive-push of each segment', () => copyArchive({
      manifest: p.manifest, tli: Number(pFull.reported['timeline'] ?? 1), fromLsn: starts[0] ?? '0/0',
      staging: path.join(base, 'wal-staging'), pushedDir: path.join(b.repoDir, 'archive'), push: (f) => b.archivePush(f),
    }));
  }

  const cold = async (): Promise<{ cacheDropped: boolean }> => ({ cacheDropped: await dropCaches() });
  const restoreDir = path.join(base, 'restore');
  r.restore.pgpilot = await timed('pgpilot restore of the full backup', cold, () => p.restore(pFull.label, restoreDir));
  await fsp.rm(restoreDir, { recursive: true, force: true });
  if (b !== undefined && bFull !== undefined) {
    r.restore.pgbackrest = await timed('pgBackRest restore of the full backup', cold, () => b.restore(bFull.label, restoreDir));
    await fsp.rm(restoreDir, { recursive: true, force: true });
  }

  const newName = `${p.name}pitr`;
  const newDir = path.join(p.home, newName);
  const destroyNew = async (): Promise<void> => {
    if (await fsp.stat(newDir).then(() => true, () => false)) r.leftovers.push(...await destroyCluster(p.home, newName, newDir));
  };
  atCleanup(destroyNew);
  r.pitr.pgpilot = await timed(`pgpilot point-in-time recovery to ${load.targetLsn} (restore --to-new)`, cold, async () => {
    const pitr = await pgpilotPitr(p, { base, newName, label: pFull.label, lsn: load.targetLsn });
    r.settings.pitrManifest = await fsp.readFile(pitr.manifest, 'utf8');
    return pitr;
  });
  await step(`pgpilot down ${newName} --destroy --yes`, destroyNew);
  if (b !== undefined && bFull !== undefined) {
    let server: { stop(): Promise<void> } | undefined;
    const stopServer = async (): Promise<void> => {
      const s = server;
      server = undefined;
      await s?.stop();
    };
    atCleanup(stopServer);
    r.pitr.pgbackrest = await timed(`pgBackRest point-in-time recovery to ${load.targetLsn} (restore --type=lsn, PostgreSQL with archive-get)`, cold,
      () => pgbackrestPitr(b, { base, dir: restoreDir, label: bFull.label, lsn: load.targetLsn, started: (s) => (server = s) }));
    await step('stop the PostgreSQL pgBackRest recovered', stopServer);
    await fsp.rm(restoreDir, { recursive: true, force: true });
  }
}

process.exitCode = await runBench<Options, RestoreResults>({
  name: 'restore', help, options,
  record: (opts, environment) => ({
    environment, options: opts,
    settings: { pgpilotManifest: '', pitrManifest: '', pgbackrestConfig: undefined, postgres: {} },
    database: undefined, cacheDropped: true, full: {}, load: undefined, archiveCopy: undefined, restore: {}, pitr: {},
    steps: [], busyAtStart: [], failures: [], leftovers: [],
  }),
  run,
  async report(r, opts) {
    const files = await writeReport(r, opts.out);
    return { files: [files.md, files.json], verdicts: targetChecks(r) };
  },
}, process.argv.slice(2));
