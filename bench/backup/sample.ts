// Measuring processes for the backup benchmark: peak RSS and I/O counters sampled from /proc, commands timed with the
// exact I/O of their whole process tree, bytes under a directory, the page cache dropped, other CPU load on the machine.
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { sleep } from '../../src/base/wait.js';
import { findProcesses, memoryOf } from '../ha/procs.js';

/** The counters of /proc/PID/io: bytes fetched from / sent to storage, and bytes passed to read()/write() calls. */
export interface Io {
  readBytes: number;
  writeBytes: number;
  rchar: number;
  wchar: number;
}

export function parseIo(text: string): Io {
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? NaN);
  return { readBytes: field('read_bytes'), writeBytes: field('write_bytes'), rchar: field('rchar'), wchar: field('wchar') };
}

export async function ioOf(pid: number): Promise<Io | undefined> {
  return fs.readFile(`/proc/${pid}/io`, 'utf8').then(parseIo, () => undefined);
}

export function ioDelta(after: Io, before: Io): Io {
  return { readBytes: after.readBytes - before.readBytes, writeBytes: after.writeBytes - before.writeBytes, rchar: after.rchar - before.rchar, wchar: after.wchar - before.wchar };
}

export interface WatchedProcess {
  pid: number;
  command: string;
  /** Highest VmHWM (the kernel's own peak RSS) seen, bytes. */
  hwmBytes: number;
  /** /proc/PID/io at the last sample before the process was gone. */
  lastIo: Io | undefined;
}

export interface Watched {
  /** Highest sum of VmRSS over the matching processes at one sample, bytes. */
  peakRssBytes: number;
  processes: WatchedProcess[];
  samples: number;
}

/** Processes to watch: the executable's base name (argv[0]) and strings their command line contains. */
export interface ProcessMatch {
  program: string;
  parts: string[];
}

/**
 * Samples every `intervalMs` all processes that match: VmRSS, VmHWM and /proc/PID/io. stop() ends the sampling and
 * returns the peaks and each process's last counters.
 */
export function watchProcesses(match: ProcessMatch, intervalMs = 100): { stop(): Promise<Watched> } {
  const seen = new Map<number, WatchedProcess>();
  let peakRssBytes = 0;
  let samples = 0;
  let running = true;
  const loop = (async (): Promise<void> => {
    while (running) {
      let sum = 0;
      for (const p of await findProcesses(...match.parts)) {
        if (path.basename(p.argv[0] ?? '') !== match.program) continue;
        const [mem, io] = await Promise.all([memoryOf(p.pid), ioOf(p.pid)]);
        if (mem === undefined || !Number.isFinite(mem.rss) || !Number.isFinite(mem.hwm)) continue; // gone, or a zombie
        const w = seen.get(p.pid) ?? { pid: p.pid, command: p.argv.join(' '), hwmBytes: 0, lastIo: undefined };
        w.hwmBytes = Math.max(w.hwmBytes, mem.hwm);
        w.lastIo = io ?? w.lastIo;
        seen.set(p.pid, w);
        sum += mem.rss;
      }
      peakRssBytes = Math.max(peakRssBytes, sum);
      samples++;
      await sleep(intervalMs);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { peakRssBytes, processes: [...seen.values()], samples };
    },
  };
}

/** Runs `fn` while watching the processes that match (see watchProcesses); the watch ends even if `fn` throws. */
export async function watching<T>(match: ProcessMatch, fn: () => Promise<T>): Promise<{ result: T; watched: Watched }> {
  const watch = watchProcesses(match);
  let result: T;
  try {
    result = await fn();
  } catch (e) {
    await watch.stop();
    throw e;
  }
  return { result, watched: await watch.stop() };
}

/**
 * Peak RSS: the larger of the highest VmHWM of one process and the highest sampled sum of VmRSS over all of them
 * (for one process, its VmHWM: the kernel's exact peak).
 */
export function peakOf(w: Watched): number {
  return Math.max(w.peakRssBytes, ...w.processes.map((p) => p.hwmBytes));
}

export interface Timed {
  ms: number;
  code: number;
  stdout: string;
  stderr: string;
  /** /proc/PID/io of a shell that ran the command and reaped it: the command's whole process tree, exactly. */
  io: Io | undefined;
}

/**
 * Runs argv under `sh`, which after the command exits prints its own /proc/PID/io: the kernel adds the counters of
 * every reaped child to its parent's, so that is the I/O of the command and all its descendants. The command does not
 * inherit that descriptor, so a daemon it starts (pg_ctl start) does not hold the run open.
 */
export function runTimed(argv: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 4 * 3600_000): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn('sh', ['-c', '"$@" 3>&-; rc=$?; cat /proc/$$/io >&3; exit $rc', 'sh', ...argv], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let io = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    (child.stdio[3] as NodeJS.ReadableStream).on('data', (d: Buffer) => (io += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${argv.join(' ')} did not finish in ${timeoutMs / 1000} s\nstderr: ${stderr}`));
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ ms: performance.now() - t0, code: code ?? -1, stdout, stderr, io: io === '' ? undefined : parseIo(io) });
    });
  });
}

/** Runs argv, failing with its output unless it exits 0. */
export async function runOk(argv: string[], env: NodeJS.ProcessEnv = {}, timeoutMs?: number): Promise<Timed> {
  const r = await runTimed(argv, env, timeoutMs);
  if (r.code !== 0) throw new Error(`${argv.join(' ')} exited ${r.code}: ${(r.stderr.trim() || r.stdout.trim()).slice(-2000)}`);
  return r;
}

/** Sum of the sizes of the regular files under `dir` (apparent bytes), 0 when it does not exist. */
export async function dirBytes(dir: string): Promise<number> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  let total = 0;
  for (const e of entries) {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) total += await dirBytes(full);
    else if (e.isFile()) total += (await fs.stat(full).catch(() => ({ size: 0 }))).size;
  }
  return total;
}

/** `sync`, then drops the page cache, dentries and inodes so the next run reads from disk; false when not allowed. */
export async function dropCaches(): Promise<boolean> {
  await runTimed(['sync']);
  return fs.writeFile('/proc/sys/vm/drop_caches', '3\n').then(() => true, () => false);
}

export interface BusyProcess {
  pid: number;
  /** Average share of one CPU over the window, percent. */
  cpuPercent: number;
  command: string;
}

interface ProcTicks {
  ticks: number;
  ppid: number;
  comm: string;
}

async function cpuSnapshot(): Promise<Map<number, ProcTicks>> {
  const out = new Map<number, ProcTicks>();
  for (const entry of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await fs.readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields.length > 13) {
      out.set(Number(entry), { ticks: Number(fields[11]) + Number(fields[12]), ppid: Number(fields[1]), comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) });
    }
  }
  return out;
}

/**
 * Starts measuring the CPU used by processes that are not the benchmark's: stop() returns those that used more than
 * `minPercent` of one CPU on average since the start. The benchmark's are this process and its descendants, and every
 * process whose command line contains `marker` (its working directory) with its descendants (PostgreSQL backends).
 * Processes that both started and ended within the window are not seen.
 */
export function otherCpu(marker: string, minPercent = 10): { stop(): Promise<BusyProcess[]> } {
  const t0 = performance.now();
  const before = cpuSnapshot();
  return {
    async stop() {
      const after = await cpuSnapshot();
      const seconds = (performance.now() - t0) / 1000;
      const first = await before;
      const cmdline = async (pid: number): Promise<string> => (await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0').join(' ').trim();
      const ours = new Map<number, boolean>();
      const isOurs = async (pid: number, depth = 0): Promise<boolean> => {
        if (pid <= 1 || depth > 50) return false;
        const known = ours.get(pid);
        if (known !== undefined) return known;
        const v = pid === process.pid || (await cmdline(pid)).includes(marker) || (await isOurs(after.get(pid)?.ppid ?? 0, depth + 1));
        ours.set(pid, v);
        return v;
      };
      const busy: BusyProcess[] = [];
      const hz = 100;
      for (const [pid, t] of after) {
        const pct = ((t.ticks - (first.get(pid)?.ticks ?? 0)) / hz / seconds) * 100;
        if (pct < minPercent || (await isOurs(pid))) continue;
        busy.push({ pid, cpuPercent: Math.round(pct), command: (await cmdline(pid)).slice(0, 120) || `[${t.comm}]` });
      }
      return busy.sort((a, b) => b.cpuPercent - a.cpuPercent);
    },
  };
}
