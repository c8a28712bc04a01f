// A member's backup jobs: `pgpilot job KIND` child processes, one mutating job at a time, the last 50 kept in memory.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { ErrorCode, PgpilotError, type ErrorCodeName } from '../base/errors.js';
import type { Logger } from '../base/log.js';
import { mutatingJobKinds, type JobError, type JobInfo, type JobKind, type JobOptions, type JobOrigin } from '../api/jobs.js';
import { pgpilotBin } from '../runner/processes.js';

/** Small young-generation semi-spaces and one GC thread, as the WAL archiver: jobs stream data, keep little. */
const JOB_NODE_ARGS = ['--max-semi-space-size=1', '--single-threaded-gc'];
const KEPT_JOBS = 50;
/** A stopped job gets this long after SIGTERM to clean up (end the backup in PostgreSQL), then SIGKILL. */
const STOP_GRACE_MS = 10_000;

/** The command line of a job (program first). */
export type JobCommand = (kind: JobKind, options: JobOptions) => string[];

/** `node bin/pgpilot.js job KIND --config FILE --options JSON`, dying with the agent (setpriv --pdeathsig). */
export function pgpilotJobCommand(configFile: string): JobCommand {
  const config = path.resolve(configFile);
  return (kind, options) => [
    'setpriv', '--pdeathsig', 'SIGTERM', '--',
    process.execPath, ...JOB_NODE_ARGS, pgpilotBin, 'job', kind, '--config', config, '--options', JSON.stringify(options),
  ];
}

export interface JobManagerOptions {
  command: JobCommand;
  logger: Logger;
  /** Called once per job when it ends (the backup statistics). */
  onFinished?: (job: Readonly<JobInfo>) => void;
  stopGraceMs?: number;
}

interface Running {
  job: JobInfo;
  child: ChildProcess;
  done: Promise<JobInfo>;
  /** Set when we stopped the job: the error it ends with. */
  stoppedWith: JobError | undefined;
}

export class JobManager {
  /** Oldest first. */
  private readonly history: JobInfo[] = [];
  private readonly running = new Map<string, Running>();
  private stopping = false;

  constructor(private readonly o: JobManagerOptions) {}

  /** Starts a job; a State error when a mutating kind finds one running (or the agent is stopping). */
  start(kind: JobKind, options: JobOptions, origin: JobOrigin): JobInfo {
    if (this.stopping) throw new PgpilotError('State', `the agent is stopping: no new ${kind} job`);
    const busy = mutatingJobKinds.has(kind) ? this.runningMutating() : undefined;
    if (busy !== undefined) {
      throw new PgpilotError('State', `a backup job is already running (id ${busy.id}: ${busy.kind} since ${busy.startedAt})`, {
        hint: `wait until it ends: GET /jobs?id=${busy.id}`,
      });
    }
    const job: JobInfo = { id: randomUUID(), kind, options, origin, state: 'running', startedAt: new Date().toISOString() };
    this.keep(job);
    this.launch(job);
    return { ...job };
  }

  /** The running backup, verify, expire or dump job. */
  runningMutating(): JobInfo | undefined {
    for (const r of this.running.values()) if (mutatingJobKinds.has(r.job.kind)) return { ...r.job };
    return undefined;
  }

  /** Recent jobs, newest first. */
  list(): JobInfo[] {
    return this.history.map((j) => ({ ...j })).reverse();
  }

  get(id: string): JobInfo | undefined {
    const job = this.history.find((j) => j.id === id);
    return job === undefined ? undefined : { ...job };
  }

  /** Runs a (read-only) job and returns its result; its error as a PgpilotError, a Timeout one after `timeoutMs`. */
  async runAndWait(kind: JobKind, options: JobOptions, timeoutMs: number): Promise<unknown> {
    const { id } = this.start(kind, options, 'api');
    const run = this.running.get(id);
    if (run === undefined) throw new PgpilotError('State', `the ${kind} job ${id} vanished`);
    const timer = setTimeout(() => {
      this.kill(run, { code: 'Timeout', message: `the ${kind} job did not finish within ${timeoutMs / 1000} s: stopped it`, hint: 'try again; see the agent log for what the job was doing' });
    }, timeoutMs);
    const job = await run.done;
    clearTimeout(timer);
    if (job.state === 'succeeded') return job.result;
    throw errorOf(job);
  }

  /** Stops a running job (SIGTERM, SIGKILL after the grace period); it ends failed with `error`. */
  cancel(id: string, error: JobError): void {
    const run = this.running.get(id);
    if (run !== undefined) this.kill(run, error);
  }

  /** At agent shutdown: refuses new jobs, stops the running ones and waits for them to end. */
  async stop(): Promise<void> {
    this.stopping = true;
    const runs = [...this.running.values()];
    for (const run of runs) this.kill(run, { code: 'State', message: 'stopped: the agent is stopping' });
    await Promise.all(runs.map((r) => r.done));
  }

  private keep(job: JobInfo): void {
    this.history.push(job);
    while (this.history.length > KEPT_JOBS) {
      const oldest = this.history.findIndex((j) => j.state !== 'running');
      if (oldest < 0) break;
      this.history.splice(oldest, 1);
    }
  }

  private launch(job: JobInfo): void {
    const log = this.o.logger.child({ job: job.id, kind: job.kind });
    const [program, ...args] = this.o.command(job.kind, job.options);
    // Reads of scattered pages go out in parallel: more of libuv's threads than its default four.
    const child = spawn(program ?? '', args, { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, UV_THREADPOOL_SIZE: '16' } });
    let stdout = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    let finish: (job: JobInfo) => void = () => undefined;
    const run: Running = { job, child, done: new Promise((resolve) => (finish = resolve)), stoppedWith: undefined };
    this.running.set(job.id, run);
    log.info('job started', { origin: job.origin, options: job.options, pid: child.pid });

    const end = (outcome: { result: unknown } | { error: JobError }): void => {
      if (!this.running.delete(job.id)) return;
      const finishedAt = new Date();
      job.finishedAt = finishedAt.toISOString();
      const durationMs = finishedAt.getTime() - Date.parse(job.startedAt);
      if ('result' in outcome) {
        job.state = 'succeeded';
        job.result = outcome.result;
        log.info('job succeeded', { durationMs });
      } else {
        job.state = 'failed';
        job.error = outcome.error;
        log.warn('job failed', { durationMs, code: outcome.error.code, error: outcome.error.message, hint: outcome.error.hint });
      }
      this.o.onFinished?.(job);
      finish(job);
    };
    child.once('error', (e) => end({ error: run.stoppedWith ?? { code: 'Program', message: `could not run the ${job.kind} job: ${e.message}` } }));
    child.once('close', (code, signal) => end(run.stoppedWith !== undefined ? { error: run.stoppedWith } : outcomeOf(job.kind, stdout, code, signal)));
  }

  private kill(run: Running, error: JobError): void {
    if (run.stoppedWith !== undefined) return;
    run.stoppedWith = error;
    this.o.logger.warn('stopping job', { job: run.job.id, kind: run.job.kind, why: error.message });
    run.child.kill('SIGTERM');
    const timer = setTimeout(() => run.child.kill('SIGKILL'), this.o.stopGraceMs ?? STOP_GRACE_MS);
    void run.done.then(() => clearTimeout(timer));
  }
}

/** The job's last stdout line: `{"ok":true,"result":...}` or `{"ok":false,"error":{code,message,hint}}`. */
function outcomeOf(kind: JobKind, stdout: string, code: number | null, signal: NodeJS.Signals | null): { result: unknown } | { error: JobError } {
  const last = stdout.trimEnd().split('\n').pop() ?? '';
  let parsed: unknown;
  try {
    parsed = JSON.parse(last);
  } catch {
    parsed = undefined;
  }
  const p = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as { ok?: unknown; result?: unknown; error?: unknown };
  if (p.ok === true) return { result: p.result ?? null };
  const e = (typeof p.error === 'object' && p.error !== null ? p.error : {}) as { code?: unknown; message?: unknown; hint?: unknown };
  if (p.ok === false && typeof e.message === 'string') {
    return { error: { code: typeof e.code === 'string' ? e.code : 'Backup', message: e.message, ...(typeof e.hint === 'string' ? { hint: e.hint } : {}) } };
  }
  const how = signal === null ? `with code ${code ?? '?'}` : `on signal ${signal}`;
  return { error: { code: 'Program', message: `the ${kind} job exited ${how} without a result`, hint: 'see the agent log for its messages' } };
}

/** A failed job's error as a catalog error (unknown codes become Backup errors). */
function errorOf(job: JobInfo): PgpilotError {
  const e = job.error ?? { code: 'Backup', message: `the ${job.kind} job failed` };
  const code: ErrorCodeName = Object.hasOwn(ErrorCode, e.code) ? (e.code as ErrorCodeName) : 'Backup';
  return new PgpilotError(code, e.message, e.hint === undefined ? {} : { hint: e.hint });
}
