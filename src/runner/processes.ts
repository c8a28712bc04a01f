// Spawning pgpilot's own sub-processes (supervisor, agents) and stopping processes by pid.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep } from '../base/wait.js';
import { processAlive } from './state.js';

/** The pgpilot executable of this installation. */
export const pgpilotBin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/pgpilot.js');

/** Starts `pgpilot <args>` with stdout and stderr appended to `logFile`. */
export function spawnPgpilot(args: string[], logFile: string, options: { detached: boolean; env?: NodeJS.ProcessEnv; nodeArgs?: string[] }): ChildProcess {
  const fd = fs.openSync(logFile, 'a', 0o600);
  try {
    const child = spawn(process.execPath, [...(options.nodeArgs ?? []), pgpilotBin, ...args], {
      detached: options.detached,
      stdio: ['ignore', fd, fd],
      env: options.env ?? process.env,
    });
    if (options.detached) child.unref();
    return child;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * V8 settings for the long-running agent: small young-generation semi-spaces (16 MiB each by default) and a single
 * GC thread keep its resident memory near what its code needs; its heap stays small (DCS views, one SQL connection).
 */
export const agentNodeArgs = ['--max-semi-space-size=1', '--max-old-space-size=96', '--single-threaded-gc'];

/** Sends `signal` to pid (ignoring a process already gone). */
export function signalPid(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(pid, signal);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
  }
}

/** Sends `signal` (SIGTERM by default), waits up to `graceMs`, then SIGKILLs and waits. Returns whether it was forced. */
export async function terminate(pid: number | undefined, graceMs: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<boolean> {
  if (!processAlive(pid)) return false;
  signalPid(pid, signal);
  const deadline = Date.now() + graceMs;
  while (processAlive(pid) && Date.now() < deadline) await sleep(100);
  if (!processAlive(pid)) return false;
  signalPid(pid, 'SIGKILL');
  const killDeadline = Date.now() + 5000;
  while (processAlive(pid) && Date.now() < killDeadline) await sleep(50);
  return true;
}
