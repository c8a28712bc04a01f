// The frame of the backup and restore benchmarks: flags, prerequisites, logged and timed steps, cleanup, results written.
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { errorMessage } from '../../src/base/errors.js';
import { sleep } from '../../src/base/wait.js';
import type { Environment } from '../ha/report.js';
import { reapByMarker } from '../ha/procs.js';
import { machine, versions } from './environment.js';
import { pgbackrestVersion } from './pgbackrest.js';
import { otherCpu, type BusyProcess } from './sample.js';

/** The checkout's root. */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export interface StepRecord {
  step: string;
  at: string;
  seconds: number;
  otherCpu: BusyProcess[];
}

/** What every run records besides its figures. */
export interface RunRecord {
  environment: Environment;
  /** Whether every drop of the page cache before a timed run worked. */
  cacheDropped: boolean;
  /** Each step: when it started, how long it took, and the other processes that used CPU meanwhile. */
  steps: StepRecord[];
  /** Other processes using CPU in the second before the benchmark started anything. */
  busyAtStart: BusyProcess[];
  failures: Array<{ step: string; error: string }>;
  leftovers: string[];
}

/** One line of the verdicts logged at the end (the same shape as the results' target rows). */
export interface Verdict {
  what: string;
  pgpilot: string;
  pgbackrest: string;
  ratio: string;
  target: string;
  pass: boolean | undefined;
}

/** The end of a benchmark's --help: what it needs, where it runs, how long a full run takes and how much disk. */
export function needs(minutes: number, diskGb: number): string {
  return `Needs root (pgBackRest and PostgreSQL run as the postgres user through runuser; the page cache is dropped before
each timed run), PostgreSQL 15 with pgbench, and pgBackRest 2.45 (Debian: apt-get install -y pgbackrest). Everything
runs in a new directory under ${os.tmpdir()} on free ports and is deleted at the end, Ctrl-C included. A full run
takes about ${minutes} minutes and needs about ${diskGb} GB of free disk there.`;
}

export function positive(name: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} wants a positive integer, not "${v}"`);
  return n;
}

export interface Bench<O extends { out: string; skipPgbackrest: boolean }, R extends RunRecord> {
  /** `backup` for `npm run bench:backup`: names the working directory and the command in the results. */
  name: string;
  help: string;
  /** The options from the arguments (throws on a bad one), undefined for --help. */
  options(argv: string[]): O | undefined;
  /** The results record before anything runs. */
  record(opts: O, environment: Environment): R;
  /** The benchmark itself; a number returned is the exit code (the results are written anyway). */
  run(ctx: RunContext<R>, opts: O): Promise<number | void>;
  /** Writes the results; returns the files and the verdicts to log. */
  report(r: R, opts: O): Promise<{ files: string[]; verdicts: Verdict[] }>;
}

export interface RunContext<R extends RunRecord> {
  r: R;
  /** The working directory (under the system's temporary directory), deleted at the end. */
  base: string;
  log: (msg: string) => void;
  /** Runs a step: logged, timed, its failure recorded (then it returns undefined), the other CPU load watched. */
  step: <T>(name: string, fn: () => Promise<T>) => Promise<T | undefined>;
  /** A step measured from a quiet start: `quiet` (which drops the page cache) first, then `fn`. */
  timed: <T>(name: string, quiet: () => Promise<{ cacheDropped: boolean }>, fn: () => Promise<T>) => Promise<T | undefined>;
  /** Adds work to the cleanup; the cleanup runs the latest added first, then kills what is left and removes `base`. */
  atCleanup: (fn: () => Promise<void>) => void;
}

/** What must be there before anything starts; undefined when all is. */
async function missing(skipPgbackrest: boolean): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'run as root: pgBackRest and PostgreSQL run as the postgres user through runuser, and the page cache is dropped before each timed run';
  if (!skipPgbackrest && (await pgbackrestVersion()) === undefined) {
    return 'pgBackRest is not installed: apt-get install -y pgbackrest (Debian 12 ships 2.45), or run with --skip-pgbackrest';
  }
  return undefined;
}

/** Runs a benchmark from the command line's arguments; returns the exit code. */
export async function runBench<O extends { out: string; skipPgbackrest: boolean }, R extends RunRecord>(bench: Bench<O, R>, argv: string[]): Promise<number> {
  let opts: O | undefined;
  try {
    opts = bench.options(argv);
  } catch (e) {
    process.stderr.write(`bench: ${errorMessage(e)}\n\n${bench.help}\n`);
    return 2;
  }
  if (opts === undefined) {
    process.stdout.write(`${bench.help}\n`);
    return 0;
  }
  const notReady = await missing(opts.skipPgbackrest);
  if (notReady !== undefined) {
    process.stderr.write(`bench: ${notReady}\n`);
    return 2;
  }
  const t0 = Date.now();
  const log = (msg: string): void => void process.stdout.write(`[bench +${((Date.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${msg}\n`);
  const startedAt = new Date();
  const r = bench.record(opts, {
    startedAt: startedAt.toISOString(), finishedAt: '', durationSeconds: 0,
    command: [`npm run bench:${bench.name}`, ...(argv.length > 0 ? ['--', ...argv] : [])].join(' '),
    machine: machine(), versions: await versions(repoRoot),
  });
  const base = await fsp.mkdtemp(path.join(os.tmpdir(), `pgpilot-bench-${bench.name}-`));
  await fsp.chmod(base, 0o755);
  log(`working directory ${base}`);
  const cleanups: Array<() => Promise<void>> = [];
  let cleaned: Promise<void> | undefined;
  const cleanup = (): Promise<void> => (cleaned ??= (async () => {
    for (const fn of cleanups.reverse()) await fn().catch((e: unknown) => log(`cleaning up: ${errorMessage(e)}`));
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
    const entry: StepRecord = { step: name, at: new Date().toISOString(), seconds: 0, otherCpu: [] };
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
  const ctx: RunContext<R> = {
    r, base, log, step,
    timed: (name, quiet, fn) => step(name, async () => {
      const q = await quiet();
      r.cacheDropped &&= q.cacheDropped;
      return fn();
    }),
    atCleanup: (fn) => void cleanups.push(fn),
  };

  let code: number | void;
  try {
    const idle = otherCpu(base);
    await sleep(1000);
    r.busyAtStart = await idle.stop();
    code = await bench.run(ctx, opts);
  } finally {
    log('cleaning up');
    await cleanup();
    const finishedAt = new Date();
    r.environment.finishedAt = finishedAt.toISOString();
    r.environment.durationSeconds = Math.round((finishedAt.getTime() - startedAt.getTime()) / 1000);
    const { files, verdicts } = await bench.report(r, opts);
    log(`wrote ${files.join(' and ')}`);
    for (const c of verdicts) log(`${c.pass === undefined ? 'NOT MEASURED' : c.pass ? 'PASS' : 'FAIL'}  ${c.what}: pgpilot ${c.pgpilot}, pgBackRest ${c.pgbackrest}, ratio ${c.ratio} (${c.target})`);
    if (r.leftovers.length > 0) log(`processes left behind and killed: ${r.leftovers.join('; ')}`);
  }
  return code ?? (r.failures.length > 0 || r.leftovers.length > 0 ? 1 : 0);
}
