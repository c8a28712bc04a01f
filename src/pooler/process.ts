// The pgbouncer process of one pooler: started in the foreground of its own process group as the run-as user, stopped by signal.
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import { PgpilotError, errorMessage } from '../base/errors.js';
import { waitFor } from '../base/wait.js';
import { listenAddress } from './config.js';

export interface StartPoolerOptions {
  iniFile: string;
  /** pgbouncer refuses to run as root: the unprivileged user (e.g. postgres) it runs as. */
  runAs: { uid: number; gid: number };
  /** pgbouncer's stdout and stderr are appended here (its log when the ini sets no logfile). */
  logFile: string;
  /** Default `pgbouncer`, looked up in /usr/sbin, /usr/bin, /sbin, /bin. */
  bin?: string;
  /** How long to wait until it accepts TCP connections; default 15 s. */
  timeoutMs?: number;
}

const PATH = '/usr/sbin:/usr/bin:/sbin:/bin';
const LOG_TAIL_BYTES = 4096;

/**
 * Spawns `pgbouncer iniFile` (not -d: it stays our child until we exit, then it goes on alone in its own process
 * group) and waits until it accepts connections on its listen_port. Returns its pid. If it exits first, or does not
 * answer in time (then it is killed), the error carries the tail of the log. A port already taken is refused first,
 * so the answer that is waited for cannot come from another process.
 */
export async function startPooler(options: StartPoolerOptions): Promise<number> {
  const ini = await fs.readFile(options.iniFile, 'utf8').catch((e: unknown) => {
    throw new PgpilotError('Pooler', `could not read ${options.iniFile}: ${errorMessage(e)}`);
  });
  const { host, port } = listenAddress(ini);
  if (await accepts(host, port)) {
    throw new PgpilotError('Pooler', `port ${host}:${port} of the pooler ${options.iniFile} is already in use`, {
      hint: 'stop what listens there (`ss -ltnp`), or give the pooler another port',
    });
  }
  const log = await fs.open(options.logFile, 'a', 0o640).catch((e: unknown) => {
    throw new PgpilotError('Os', `could not open the pooler log ${options.logFile}: ${errorMessage(e)}`, {
      hint: 'check that its directory exists and is writable by the agent',
    });
  });
  let exited: string | undefined;
  let pid: number | undefined;
  try {
    const child = spawn(options.bin ?? 'pgbouncer', [options.iniFile], {
      detached: true,
      stdio: ['ignore', log.fd, log.fd],
      cwd: '/',
      env: { PATH, LANG: 'C.UTF-8' },
      uid: options.runAs.uid,
      gid: options.runAs.gid,
    });
    child.once('exit', (code, signal) => void (exited = signal ?? `exit code ${code}`));
    child.once('error', (e) => void (exited = e.message));
    child.unref();
    pid = child.pid;
  } finally {
    await log.close();
  }
  const timeoutMs = options.timeoutMs ?? 15_000;
  const up = await waitFor('pgbouncer to accept connections', async () => exited !== undefined || (await accepts(host, port)),
    { timeoutMs, intervalMs: 50 }).catch(() => false);
  if (exited === undefined && up && pid !== undefined) return pid;
  if (pid !== undefined && exited === undefined) await stopPooler(pid, { timeoutMs: 2_000 });
  const why = exited === undefined ? `did not accept connections on ${host}:${port} within ${timeoutMs} ms` : `exited (${exited})`;
  throw new PgpilotError('Pooler', `pgbouncer ${options.iniFile} ${why}; end of ${options.logFile}:\n${await logTail(options.logFile)}`, {
    hint: 'fix what the log names (bad setting, port in use, file permissions), or install pgbouncer',
  });
}

/**
 * Stops pgbouncer `pid`: SIGINT (safe shutdown: PAUSE, then exit once every server connection is released), then
 * after `timeoutMs` SIGTERM (immediate shutdown), then SIGKILL to its process group. Returns once it is gone, so
 * its port is free. A pid that is not a pgbouncer (gone, or reused) is left alone.
 */
export async function stopPooler(pid: number, options: { timeoutMs?: number } = {}): Promise<void> {
  const steps: Array<[NodeJS.Signals, number]> = [['SIGINT', options.timeoutMs ?? 10_000], ['SIGTERM', 2_000], ['SIGKILL', 5_000]];
  for (const [signal, waitMs] of steps) {
    if (!(await isPgbouncer(pid))) return;
    // SIGKILL goes to its process group as well (startPooler makes pgbouncer a group leader).
    for (const target of signal === 'SIGKILL' ? [-pid, pid] : [pid]) {
      try {
        process.kill(target, signal);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
      }
    }
    const gone = await waitFor(`pgbouncer ${pid} to exit`, async () => !(await isPgbouncer(pid)),
      { timeoutMs: waitMs, intervalMs: 50 }).catch(() => false);
    if (gone) return;
  }
  throw new PgpilotError('Pooler', `pgbouncer (pid ${pid}) survived SIGKILL`, {
    hint: 'the process is stuck in the kernel: check `ps -o stat,wchan -p PID`',
  });
}

/** The pid in a pgbouncer pidfile, if that process is a live pgbouncer (to adopt a pooler after an agent restart). */
export async function readPoolerPid(pidFile: string): Promise<number | undefined> {
  const pid = Number((await fs.readFile(pidFile, 'utf8').catch(() => '')).trim());
  return Number.isInteger(pid) && pid > 0 && (await isPgbouncer(pid)) ? pid : undefined;
}

/** A live (not zombie) process whose program is pgbouncer. */
async function isPgbouncer(pid: number): Promise<boolean> {
  try {
    const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8');
    const [, comm, state] = /^\d+ \((.*)\) (\S)/.exec(stat) ?? [];
    return comm === 'pgbouncer' && state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

async function logTail(file: string): Promise<string> {
  const text = await fs.readFile(file, 'utf8').catch(() => '');
  return text.slice(-LOG_TAIL_BYTES).split('\n').slice(-15).join('\n');
}
