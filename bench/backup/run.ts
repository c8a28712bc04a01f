// `npm run bench:backup`: pgpilot's backups against pgBackRest 2.45 on the same database, one after the other (full,
// incremental, restore, WAL archive under load), and writes bench/results/backup.md and backup.json. Flags: --help.
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { errorMessage } from '../../src/base/errors.js';
import { sleep } from '../../src/base/wait.js';
import { reapByMarker } from '../ha/procs.js';
import { machine, versions } from './environment.js';
import { setupPgbackrest, pgbackrestVersion, type PgbackrestSide } from './pgbackrest.js';
import { startPgpilot, type PgpilotSide } from './pgpilot.js';
import { targetChecks, writeReport, type BackupResults, type Options } from './report.js';
import { otherCpu, watching } from './sample.js';
import { archiveUnderLoad, pgbench, quiesce, sql } from './workload.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

const help = `usage: node dist/bench/backup/run.js [flags]   (npm run bench:backup -- [flags])

  --scale N             pgbench scale of the database (default 200: about 3 GB)
  --transactions N      pgbench transactions between the full and the incremental backups (default 10000, 4 clients)
  --archive-seconds N   duration of the pgbench load of the WAL-archive test (default 60)
  --out DIR             where backup.md and backup.json go (default bench/results)
  --skip-pgbackrest     measure pgpilot alone (the ratio targets are then not measured)

Needs root (pgBackRest and PostgreSQL run as the postgres user through runuser; the page cache is dropped before
each timed run), PostgreSQL 15 with pgbench, and pgBackRest 2.45 (Debian: apt-get install -y pgbackrest). Everything
runs in a new directory under ${os.tmpdir()} on free ports and is deleted at the end, Ctrl-C included. A full run
takes about 15 minutes and needs about 10 GB of free disk there.`;

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
    out: path.resolve(values.out ?? path.join(repo, 'bench', 'results')),
    skipPgbackrest: values['skip-pgbackrest'] === true,
  };
}

/** What must be there before anything starts; undefined when all is. */
async function missing(opts: Options): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'run as root: pgBackRest and PostgreSQL run as the postgres user through runuser, and the page cache is dropped before each timed run';
  if (!opts.skipPgbackrest && (await pgbackrestVersion()) === undefined) {
    return 'pgBackRest is not installed: apt-get install -y pgbackrest (Debian 12 ships 2.45), or run with --skip-pgbackrest';
  }
  return undefined;
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
  const notReady = await missing(opts);
  if (notReady !== undefined) {
    process.stderr.write(`bench: ${notReady}\n`);
    return 2;
  }
  const t0 = Date.now();
  const log = (msg: string): void => void process.stdout.write(`[bench +${((Date.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${msg}\n`);
  const startedAt = new Date();
  const r: BackupResults = {
    environment: { startedAt: startedAt.toISOString(), finishedAt: '', durationSeconds: 0, command: ['npm run bench:backup', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' '), machine: machine(), versions: await versions(repo) },
    options: opts,
    settings: { pgpilotManifest: '', pgbackrestConfig: undefined, postgres: {} },
    database: undefined, cacheDropped: true, load: undefined,
    full: {}, incr: {}, restore: {}, archive: {}, steps: [], busyAtStart: [], failures: [], leftovers: [],
  };
  const base = await fsp.mkdtemp(path.join(os.tmpdir(), 'pgpilot-bench-backup-'));
  await fsp.chmod(base, 0o755);
  log(`working directory ${base}`);
  let pgpilot: PgpilotSide | undefined;
  let standalone: { stop(): Promise<void> } | undefined;
  let cleaned: Promise<void> | undefined;
  const cleanup = (): Promise<void> => (cleaned ??= (async () => {
    await standalone?.stop().catch((e: unknown) => log(`stopping the standalone PostgreSQL: ${errorMessage(e)}`));
    if (pgpilot !== undefined) r.leftovers.push(...await pgpilot.destroy());
    r.leftovers.push(...await reapByMarker(base));
    await fsp.rm(base, { recursive: true, force: true });
  })());
  const onSignal = (sig: NodeJS.Signals): void => {
    log(`${sig}: stopping everything the benchmark started`);
    void cleanup().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const step = async <T>(name: string, fn: () => Promise<T>): Promise<T | undefined> => {
    log(name);
    const entry: BackupResults['steps'][number] = { step: name, at: new Date().toISOString(), seconds: 0, otherCpu: [] };
    r.steps.push(entry);
    const t1 = performance.now();
    const cpu = otherCpu(base);
    try {
      return await fn();
    } catch (e) {
      log(`${name} FAILED: ${errorMessage(e)}`);
      r.failures.push({ step: name, error: errorMessage(e) });
      return undefined;
    } finally {
      entry.seconds = (performance.now() - t1) / 1000;
      entry.otherCpu = await cpu.stop();
      if (entry.otherCpu.length > 0) log(`  meanwhile other processes used CPU: ${entry.otherCpu.map((b) => `${b.cpuPercent} % ${b.command.slice(0, 60)}`).join('; ')}`);
    }
  };
  /** A step measured from a quiet start: checkpoint done, archive caught up, page cache dropped. */
  const timed = <T>(name: string, fn: () => Promise<T>): Promise<T | undefined> => step(name, async () => {
    if (pgpilot === undefined) throw new Error('no cluster');
    const q = await quiesce(pgpilot.target);
    r.cacheDropped &&= q.cacheDropped;
    return fn();
  });

  try {
    const idle = otherCpu(base);
    await sleep(1000);
    r.busyAtStart = await idle.stop();
    pgpilot = await step('pgpilot up (1 member, repository zstd 1, 2 jobs)', () => startPgpilot(base));
    if (pgpilot === undefined) return 1;
    const p = pgpilot;
    const t = p.target;
    r.settings.pgpilotManifest = await fsp.readFile(p.manifest, 'utf8');
    r.database = await step(`pgbench -i -s ${opts.scale}`, async () => {
      const init = await pgbench(t, ['-i', '-s', String(opts.scale), '-q']);
      const [size] = await sql<{ bytes: string }>(t, 'SELECT pg_database_size(current_database())::text AS bytes');
      return { scale: opts.scale, sizeBytes: Number(size?.bytes), initSeconds: init.seconds };
    });
    if (r.database === undefined) return 1;
    const names = ['shared_buffers', 'max_wal_size', 'checkpoint_timeout', 'wal_level', 'wal_compression', 'full_page_writes', 'synchronous_commit', 'data_checksums', 'archive_timeout'];
    for (const row of await sql<{ name: string; setting: string }>(t, `SELECT name, current_setting(name) AS setting FROM pg_settings WHERE name IN (${names.map((n) => `'${n}'`).join(', ')}) ORDER BY name`)) {
      r.settings.postgres[row.name] = row.setting;
    }
    let br: PgbackrestSide | undefined;
    if (!opts.skipPgbackrest) {
      br = await step('pgBackRest stanza-create on the member', () => setupPgbackrest(path.join(base, 'pgbackrest'), { dataDir: p.dataDir, runDir: p.runDir, port: t.port }));
      r.settings.pgbackrestConfig = br?.configText;
    }
    const b = br;

    r.full.pgpilot = await timed('pgpilot full backup', () => p.backup('full'));
    if (b !== undefined) r.full.pgbackrest = await timed('pgBackRest full backup', () => b.backup('full'));
    const clients = 4;
    r.load = await step(`pgbench load: ${opts.transactions} transactions`, () => pgbench(t, ['-c', String(clients), '-j', '2', '-t', String(Math.ceil(opts.transactions / clients)), '-n']));
    if (r.full.pgpilot !== undefined) r.incr.pgpilot = await timed('pgpilot incremental backup', () => p.backup('incr'));
    if (r.full.pgbackrest !== undefined && b !== undefined) r.incr.pgbackrest = await timed('pgBackRest incremental backup', () => b.backup('incr'));

    const pLabel = r.incr.pgpilot?.label;
    if (pLabel !== undefined) {
      const dir = path.join(base, 'restore-pgpilot');
      r.restore.pgpilot = await timed('pgpilot restore of full + incremental', () => p.restore(pLabel, dir));
      await fsp.rm(dir, { recursive: true, force: true });
    }
    const bLabel = r.incr.pgbackrest?.label;
    if (bLabel !== undefined && b !== undefined) {
      const dir = path.join(base, 'restore-pgbackrest');
      r.restore.pgbackrest = await timed('pgBackRest restore of full + incremental', () => b.restore(bLabel, dir));
      await fsp.rm(dir, { recursive: true, force: true });
    }

    r.archive.pgpilot = await timed(`pgpilot WAL archive under ${opts.archiveSeconds} s of pgbench`, async () => {
      const { result, watched } = await watching(p.archiver, () => archiveUnderLoad(t, opts.archiveSeconds, path.join(p.repoDir, 'wal')));
      return { ...result, archiver: watched, status: await p.archiveStatus() };
    });
    if (b !== undefined) {
      standalone = await step('pgpilot down (data kept); the data directory started as a plain PostgreSQL archiving with pgBackRest', async () => {
        await p.stop();
        return b.startStandalone();
      });
      if (standalone !== undefined) {
        r.archive.pgbackrest = await timed(`pgBackRest WAL archive under ${opts.archiveSeconds} s of pgbench`, async () => {
          const { result, watched } = await watching(b.processes, () => archiveUnderLoad(t, opts.archiveSeconds, path.join(b.repoDir, 'archive')));
          return { ...result, archiver: watched };
        });
      }
    }
  } finally {
    log('cleaning up');
    await cleanup();
    const finishedAt = new Date();
    r.environment.finishedAt = finishedAt.toISOString();
    r.environment.durationSeconds = Math.round((finishedAt.getTime() - startedAt.getTime()) / 1000);
    const files = await writeReport(r, opts.out);
    log(`wrote ${files.md} and ${files.json}`);
    for (const c of targetChecks(r)) log(`${c.pass === undefined ? 'NOT MEASURED' : c.pass ? 'PASS' : 'FAIL'}  ${c.what}: pgpilot ${c.pgpilot}, pgBackRest ${c.pgbackrest}, ratio ${c.ratio} (${c.target})`);
    if (r.leftovers.length > 0) log(`processes left behind and killed: ${r.leftovers.join('; ')}`);
  }
  return r.failures.length > 0 || r.leftovers.length > 0 ? 1 : 0;
}

process.exitCode = await main();
