// Running PostgreSQL programs as the run-as user with a clean environment, and reporting their failures.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { PgpilotError } from '../base/errors.js';
import { isRoot, type RunAs } from './os-user.js';

export interface ProgramOptions {
  /** Run as this user (switching only when we are root); omitted: as ourselves. */
  runAs?: RunAs;
  /** Variables added to the clean environment. */
  env?: Record<string, string>;
  /** Working directory; defaults to `/` so a user without access to ours can still run. */
  cwd?: string;
  /** Text written to standard input, which is closed after it (at once without it). */
  input?: string;
  /** Killed (SIGKILL) and reported as failed after this long. */
  timeoutMs?: number;
}

export interface ProgramResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The last `count` non-empty lines of `text`. */
export function tailLines(text: string, count: number): string {
  return text.split('\n').filter((l) => l.trim() !== '').slice(-count).join('\n');
}

/**
 * The environment of a PostgreSQL program: ours without PG* variables (a stray PGPASSWORD or PGHOST must not leak
 * in), the run-as user's HOME/USER/LOGNAME, then `extra`.
 */
export function programEnv(runAs: RunAs | undefined, extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !key.startsWith('PG')) env[key] = value;
  }
  if (runAs !== undefined) Object.assign(env, { HOME: runAs.home, USER: runAs.name, LOGNAME: runAs.name });
  return Object.assign(env, extra);
}

/** spawn() credentials that switch to `runAs` when we are root; nothing otherwise. */
export function credentials(runAs: RunAs | undefined): { uid?: number; gid?: number } {
  return runAs !== undefined && isRoot() ? { uid: runAs.uid, gid: runAs.gid } : {};
}

/** Runs `bin` to completion; a non-zero exit, a timeout or a failure to start throws a Program error. */
export function runProgram(bin: string, args: string[], options: ProgramOptions = {}): Promise<ProgramResult> {
  const name = path.basename(bin);
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, {
      cwd: options.cwd ?? '/',
      env: programEnv(options.runAs, options.env),
      stdio: ['pipe', 'pipe', 'pipe'],
      ...credentials(options.runAs),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdin.on('error', () => undefined).end(options.input);
    let timedOut = false;
    const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(new PgpilotError('Program', `could not run ${bin}: ${e.message}`, {
        hint: 'check that PostgreSQL 15 is installed and postgres.binDir points at its bin directory',
        cause: e,
      }));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) return resolve({ code, stdout, stderr });
      const how = timedOut ? `timed out after ${options.timeoutMs} ms` : `failed (${signal ?? `exit code ${code}`})`;
      reject(new PgpilotError('Program', `${name} ${how}: ${tailLines(stderr, 10) || '(no error output)'}`, {
        hint: `see the ${name} output above; run it by hand as user ${options.runAs?.name ?? 'of the agent'} to dig deeper`,
      }));
    });
  });
}
