// The postmaster's life: started in its own process group (optionally fenced to die with its agent), adopted from
// postmaster.pid, stopped by signal.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { PgpilotError, errorMessage } from '../base/errors.js';
import type { Logger } from '../base/log.js';
import { waitFor } from '../base/wait.js';
import type { RunAs } from './os-user.js';
import { credentials, programEnv, tailLines } from './program.js';

export type StopMode = 'smart' | 'fast' | 'immediate';

export interface StartOptions {
  binDir: string;
  dataDir: string;
  runAs: RunAs;
  /** PostgreSQL's stdout and stderr are appended here. */
  logFile: string;
  log: Logger;
  /** How long to wait for "ready to accept connections"; default 60 s. */
  timeoutMs?: number;
  /**
   * Fencing: the postmaster gets SIGQUIT (immediate shutdown) the moment the process that started it dies, so a
   * primary whose agent died stops taking writes long before its leader lease can expire (setpriv --pdeathsig).
   */
  dieWithParent?: boolean;
  /** Called once when the postmaster exits, whatever the cause. */
  onExit?: (why: string) => void;
}

const SIGNALS: Record<StopMode, NodeJS.Signals> = { smart: 'SIGTERM', fast: 'SIGINT', immediate: 'SIGQUIT' };
const ESCALATION_GRACE_MS = 5_000;
const DEFAULT_START_TIMEOUT_MS = 60_000;
const LOG_TAIL_BYTES = 8192;
const LOG_TAIL_LINES = 20;

/** The postmaster's pid if postmaster.pid names a live process running in this data directory. */
export async function readPostmasterPid(dataDir: string): Promise<number | undefined> {
  const lines = await pidFileLines(dataDir);
  const pid = Number(lines[0]);
  return Number.isInteger(pid) && pid > 0 && (await runsIn(pid, dataDir)) ? pid : undefined;
}

/**
 * Starts `postgres -D dataDir` in its own process group, output appended to the log file, and waits until it accepts
 * connections. Returns its pid. If it exits first, the error carries the log tail; on timeout it keeps running.
 */
export async function startPostgres(options: StartOptions): Promise<number> {
  const { dataDir, log } = options;
  const running = await readPostmasterPid(dataDir);
  if (running !== undefined) {
    throw new PgpilotError('State', `PostgreSQL already runs on ${dataDir} (pid ${running})`, {
      hint: 'adopt the running postmaster or stop it first',
    });
  }
  const child = spawnPostmaster(options);
  let exited: string | undefined;
  child.once('exit', (code, signal) => {
    exited = signal ?? `exit code ${code}`;
    options.onExit?.(exited);
  });
  child.once('error', (e) => void (exited = e.message)).unref();
  log.info('starting PostgreSQL', { dataDir, pid: child.pid, logFile: options.logFile });
  const timeoutMs = options.timeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  const ready = await waitFor('PostgreSQL to accept connections',
    async () => exited !== undefined || (await isReady(dataDir, child.pid)), { timeoutMs, intervalMs: 100 },
  ).catch(() => false);
  if (exited !== undefined) throw await startFailed(options, `exited during start (${exited})`);
  if (!ready || child.pid === undefined) {
    throw await startFailed(options, `is not ready after ${timeoutMs} ms; it keeps running as pid ${child.pid}`);
  }
  log.info('PostgreSQL accepts connections', { dataDir, pid: child.pid });
  return child.pid;
}

/**
 * Stops the postmaster of `dataDir` with the signal of `mode` and waits up to `timeoutMs`; then escalates to an
 * immediate shutdown and, last, SIGKILL. Nothing to do when it does not run.
 */
export async function stopPostgres(dataDir: string, mode: StopMode, timeoutMs: number, log: Logger): Promise<void> {
  const pid = await readPostmasterPid(dataDir);
  if (pid === undefined) return;
  log.info('stopping PostgreSQL', { dataDir, pid, mode });
  const steps: Array<[NodeJS.Signals, number]> = [[SIGNALS[mode], timeoutMs]];
  if (mode !== 'immediate') steps.push([SIGNALS.immediate, ESCALATION_GRACE_MS]);
  steps.push(['SIGKILL', ESCALATION_GRACE_MS]);
  for (const [signal, waitMs] of steps) {
    sendSignal(pid, signal);
    const stopped = await waitFor('PostgreSQL to stop', async () => !(await runsIn(pid, dataDir)),
      { timeoutMs: waitMs, intervalMs: 100 }).catch(() => false);
    if (stopped) return;
    log.warn('PostgreSQL did not stop in time', { dataDir, pid, signal, waitMs });
  }
  throw new PgpilotError('Postgres', `PostgreSQL (pid ${pid}) on ${dataDir} survived SIGKILL`, {
    hint: 'the process is stuck in the kernel (I/O?): check `ps -o stat,wchan -p PID`',
  });
}

/** Synchronous, so the caller attaches its exit and error listeners before either can fire. */
function spawnPostmaster(options: StartOptions): ChildProcess {
  const logFd = openLog(options.logFile);
  try {
    const postgres = [path.join(options.binDir, 'postgres'), '-D', options.dataDir];
    const [bin, ...args] = options.dieWithParent === true ? ['setpriv', '--pdeathsig', 'SIGQUIT', '--', ...postgres] : postgres;
    return spawn(bin ?? 'postgres', args, {
      detached: true,
      stdio: ['ignore', logFd, logFd],
      cwd: '/',
      env: programEnv(options.runAs),
      ...credentials(options.runAs),
    });
  } finally {
    closeSync(logFd);
  }
}

function openLog(logFile: string): number {
  try {
    return openSync(logFile, 'a', 0o640);
  } catch (e) {
    throw new PgpilotError('Os', `could not open the PostgreSQL log ${logFile}: ${errorMessage(e)}`, {
      hint: 'check that its directory exists and is writable by the agent',
    });
  }
}

/** postmaster.pid says "ready" for this pid (line 8: the postmaster status). */
async function isReady(dataDir: string, pid: number | undefined): Promise<boolean> {
  const lines = await pidFileLines(dataDir);
  return pid !== undefined && lines[0] === String(pid) && lines[7]?.trim() === 'ready';
}

async function pidFileLines(dataDir: string): Promise<string[]> {
  const text = await fs.readFile(path.join(dataDir, 'postmaster.pid'), 'utf8').catch(() => '');
  return text.split('\n');
}

/** A postmaster works in its data directory; a zombie, a dead or a reused pid does not. */
async function runsIn(pid: number, dataDir: string): Promise<boolean> {
  try {
    return (await fs.readlink(`/proc/${pid}/cwd`)) === (await fs.realpath(dataDir));
  } catch {
    return false;
  }
}

function sendSignal(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
  }
}

async function startFailed(options: StartOptions, what: string): Promise<PgpilotError> {
  const tail = await readTail(options.logFile);
  return new PgpilotError('Postgres', `PostgreSQL on ${options.dataDir} ${what}; last lines of ${options.logFile}:\n${tail}`, {
    hint: 'fix the cause the log names (port in use, bad parameter, permissions) and start again',
  });
}

async function readTail(file: string): Promise<string> {
  const handle = await fs.open(file, 'r');
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, LOG_TAIL_BYTES);
    const { buffer } = await handle.read(Buffer.alloc(length), 0, length, size - length);
    return tailLines(buffer.toString('utf8'), LOG_TAIL_LINES);
  } finally {
    await handle.close();
  }
}
