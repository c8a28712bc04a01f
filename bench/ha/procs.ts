// Process helpers for the HA benchmark: find processes by command line, read their memory, signal and reap them.
import { signalPid } from '../../src/runner/processes.js';
import fs from 'node:fs/promises';
import { sleep } from '../../src/base/wait.js';
import { processAlive } from '../../src/runner/state.js';

export interface ProcessInfo {
  pid: number;
  argv: string[];
}

/** Every process whose command line (arguments joined by spaces) contains all of `parts`. */
export async function findProcesses(...parts: string[]): Promise<ProcessInfo[]> {
  const found: ProcessInfo[] = [];
  for (const entry of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    let raw: string;
    try {
      raw = await fs.readFile(`/proc/${entry}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    const argv = raw.split('\0').filter((a) => a !== '');
    const line = argv.join(' ');
    if (argv.length > 0 && parts.every((p) => line.includes(p))) found.push({ pid, argv });
  }
  return found;
}

/** The pid in the first line of a PostgreSQL data directory's postmaster.pid, when the file exists. */
export async function postmasterPid(dataDir: string): Promise<number | undefined> {
  try {
    const pid = Number((await fs.readFile(`${dataDir}/postmaster.pid`, 'utf8')).split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export interface Memory {
  /** VmRSS, bytes. */
  rss: number;
  /** VmHWM (peak RSS since the process started), bytes. */
  hwm: number;
}

/** VmRSS and VmHWM of a process from /proc/PID/status, or undefined when it is gone. */
export async function memoryOf(pid: number): Promise<Memory | undefined> {
  let text: string;
  try {
    text = await fs.readFile(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}


/** Waits until none of the pids is alive; returns the ones still alive after `timeoutMs`. */
export async function waitGone(pids: number[], timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  let alive = pids.filter((p) => processAlive(p));
  while (alive.length > 0 && Date.now() < deadline) {
    await sleep(50);
    alive = alive.filter((p) => processAlive(p));
  }
  return alive;
}

/**
 * Stops every process whose command line mentions `marker` (a directory only the benchmark uses): first agents, etcd
 * and the rest with SIGKILL (continued first, in case they were frozen), then postmasters with SIGQUIT (immediate
 * shutdown, which also ends their children), then whatever is left with SIGKILL. Returns the command lines it stopped.
 */
export async function reapByMarker(marker: string): Promise<string[]> {
  const reaped = new Set<string>();
  const isPostmaster = (p: ProcessInfo): boolean => p.argv[0]?.endsWith('/postgres') === true && p.argv.includes('-D');
  const pass = async (pick: (p: ProcessInfo) => boolean, sig: NodeJS.Signals, waitMs: number): Promise<void> => {
    const procs = (await findProcesses(marker)).filter(pick);
    for (const p of procs) {
      reaped.add(p.argv.join(' '));
      signalPid(p.pid, 'SIGCONT');
      signalPid(p.pid, sig);
    }
    await waitGone(procs.map((p) => p.pid), waitMs);
  };
  await pass((p) => !isPostmaster(p), 'SIGKILL', 5000);
  await pass(isPostmaster, 'SIGQUIT', 10_000);
  await pass(() => true, 'SIGKILL', 5000);
  return [...reaped];
}

/** Copies every *.log file under `from` to `to`, keeping the relative paths (the data directories are skipped). */
export async function copyLogs(from: string, to: string): Promise<void> {
  const walk = async (dir: string): Promise<void> => {
    let entries: import('node:fs').Dirent[];
    try {
      entries = await fs.readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const full = `${dir}/${e.name}`;
      if (e.isDirectory() && !/^(data\d*|etcd|pg_wal|base)$/.test(e.name)) await walk(full);
      else if (e.isFile() && e.name.endsWith('.log')) {
        const dest = `${to}/${full.slice(from.length + 1)}`;
        await fs.mkdir(dest.slice(0, dest.lastIndexOf('/')), { recursive: true });
        await fs.copyFile(full, dest).catch(() => undefined);
      }
    }
  };
  await walk(from);
}
