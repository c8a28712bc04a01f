// `npm run bench:backup`: pgpilot's backups against pgBackRest 2.45 on the same database, one after the other (full,
// incremental, restore, WAL archive under load), and writes bench/results/backup.md and backup.json. Flags: --help.
import fsp from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { errorMessage } from '../../src/base/errors.js';
import { needs, positive, repoRoot, runBench, type RunContext } from './harness.js';
import { setUp } from './setup.js';
import { targetChecks, writeReport, type BackupResults, type Options } from './report.js';
import { watching } from './sample.js';
import { archiveUnderLoad, pgbench } from './workload.js';

const help = `usage: node dist/bench/backup/run.js [flags]   (npm run bench:backup -- [flags])

  --scale N             pgbench scale of the database (default 200: about 3 GB)
  --transactions N      pgbench transactions between the full and the incremental backups (default 10000, 4 clients)
  --archive-seconds N   duration of the pgbench load of the WAL-archive test (default 60)
  --out DIR             where backup.md and backup.json go (default bench/results)
  --skip-pgbackrest     measure pgpilot alone (the ratio targets are then not measured)

${needs(15, 10)}`;

function options(argv: string[]): Options | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      scale: { type: 'string' }, transactions: { type: 'string' }, 'archive-seconds': { type: 'string' },
      out: { type: 'string' }, 'skip-pgbackrest': { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help === true) return undefined;
  return {
    scale: positive('scale', values.scale, 200),
    transactions: positive('transactions', values.transactions, 10_000),
    archiveSeconds: positive('archive-seconds', values['archive-seconds'], 60),
    out: path.resolve(values.out ?? path.join(repoRoot, 'bench', 'results')),
    skipPgbackrest: values['skip-pgbackrest'] === true,
  };
}

async function run(ctx: RunContext<BackupResults>, opts: Options): Promise<number | void> {
  const { r, base, log, step, timed, atCleanup } = ctx;
  const sides = await setUp(ctx, opts);
  if (sides === undefined) return 1;
  const { p, b, quiet } = sides;
  const t = p.target;
  const clients = 4;
  r.load = await step(`pgbench load: ${opts.transactions} transactions`, () => pgbench(t, ['-c', String(clients), '-j', '2', '-t', String(Math.ceil(opts.transactions / clients)), '-n']));
  if (r.full.pgpilot !== undefined) r.incr.pgpilot = await timed('pgpilot incremental backup', quiet, () => p.backup('incr'));
  if (r.full.pgbackrest !== undefined && b !== undefined) r.incr.pgbackrest = await timed('pgBackRest incremental backup', quiet, () => b.backup('incr'));

  const pLabel = r.incr.pgpilot?.label;
  if (pLabel !== undefined) {
    const dir = path.join(base, 'restore-pgpilot');
    r.restore.pgpilot = await timed('pgpilot restore of full + incremental', quiet, () => p.restore(pLabel, dir));
    await fsp.rm(dir, { recursive: true, force: true });
  }
  const bLabel = r.incr.pgbackrest?.label;
  if (bLabel !== undefined && b !== undefined) {
    const dir = path.join(base, 'restore-pgbackrest');
    r.restore.pgbackrest = await timed('pgBackRest restore of full + incremental', quiet, () => b.restore(bLabel, dir));
    await fsp.rm(dir, { recursive: true, force: true });
  }

  r.archive.pgpilot = await timed(`pgpilot WAL archive under ${opts.archiveSeconds} s of pgbench`, quiet, async () => {
    const { result, watched } = await watching(p.archiver, () => archiveUnderLoad(t, opts.archiveSeconds, path.join(p.repoDir, 'wal')));
    return { ...result, archiver: watched, status: await p.archiveStatus() };
  });
  if (b !== undefined) {
    const standalone = await step('pgpilot down (data kept); the data directory started as a plain PostgreSQL archiving with pgBackRest', async () => {
      await p.stop();
      return b.startStandalone();
    });
    if (standalone !== undefined) {
      atCleanup(() => standalone.stop().catch((e: unknown) => log(`stopping the standalone PostgreSQL: ${errorMessage(e)}`)));
      r.archive.pgbackrest = await timed(`pgBackRest WAL archive under ${opts.archiveSeconds} s of pgbench`, quiet, async () => {
        const { result, watched } = await watching(b.processes, () => archiveUnderLoad(t, opts.archiveSeconds, path.join(b.repoDir, 'archive')));
        return { ...result, archiver: watched };
      });
    }
  }
}

process.exitCode = await runBench<Options, BackupResults>({
  name: 'backup', help, options,
  record: (opts, environment) => ({
    environment, options: opts,
    settings: { pgpilotManifest: '', pgbackrestConfig: undefined, postgres: {} },
    database: undefined, cacheDropped: true, load: undefined,
    full: {}, incr: {}, restore: {}, archive: {}, steps: [], busyAtStart: [], failures: [], leftovers: [],
  }),
  run,
  async report(r, opts) {
    const files = await writeReport(r, opts.out);
    return { files: [files.md, files.json], verdicts: targetChecks(r) };
  },
}, process.argv.slice(2));
