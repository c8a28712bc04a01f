// The WAL archiver child of an agent (`pgpilot wal-archiver`): started with it, restarted when it exits, stopped last.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { Logger } from '../base/log.js';
import { sleep } from '../base/wait.js';
import { pgpilotBin } from '../runner/processes.js';

/** Small young-generation semi-spaces and one GC thread: the archiver streams files and keeps little in memory. */
const NODE_ARGS = ['--max-semi-space-size=1', '--single-threaded-gc'];
const RESTART_STEP_MS = 1_000;
const RESTART_MAX_MS = 10_000;
/** A child that ran this long counts as healthy: its next exit restarts it after the first step again. */
const HEALTHY_RUN_MS = 60_000;
/** In-flight pushes finish after SIGTERM; past this the child is killed (PostgreSQL retries what was not archived). */
const STOP_GRACE_MS = 60_000;

export interface ArchiverProcess {
  /** Stops the child (SIGTERM, SIGKILL after a grace period) and does not restart it. */
  stop(): Promise<void>;
}

/**
 * Runs `pgpilot wal-archiver --config FILE` through `setpriv --pdeathsig SIGTERM`, so it stops with the agent however
 * the agent dies. Its JSON log lines go to the agent's stdout and stderr.
 */
export function startArchiverProcess(configFile: string, logger: Logger): ArchiverProcess {
  const log = logger.child({ component: 'wal-archiver-process' });
  let child: ChildProcess | undefined;
  let stopping = false;
  let restarts = 0;
  const abort = new AbortController();

  const launch = (): void => {
    const startedAt = Date.now();
    const node = [process.execPath, ...NODE_ARGS, pgpilotBin, 'wal-archiver', '--config', path.resolve(configFile)];
    const proc = spawn('setpriv', ['--pdeathsig', 'SIGTERM', '--', ...node], { stdio: ['ignore', 'inherit', 'inherit'] });
    child = proc;
    let gone = false;
    const onGone = (why: Record<string, unknown>): void => {
      if (gone) return;
      gone = true;
      child = undefined;
      if (stopping) return;
      restarts = Date.now() - startedAt >= HEALTHY_RUN_MS ? 1 : restarts + 1;
      const delayMs = Math.min(RESTART_STEP_MS * restarts, RESTART_MAX_MS);
      log.warn('WAL archiver exited: restarting it', { ...why, delayMs });
      void sleep(delayMs, abort.signal).then(() => {
        if (!stopping) launch();
      });
    };
    proc.once('exit', (code, signal) => onGone({ code, signal }));
    // A failed spawn (no setpriv) emits 'error' and no 'exit'.
    proc.on('error', (e) => {
      if (proc.pid === undefined) onGone({ error: e.message });
    });
    log.info('WAL archiver started', { pid: proc.pid });
  };
  launch();

  return {
    async stop() {
      stopping = true;
      abort.abort();
      const proc = child;
      if (proc === undefined || proc.pid === undefined) return;
      const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
      proc.kill('SIGTERM');
      const timer = setTimeout(() => {
        log.warn('WAL archiver did not stop in time: killing it', { graceMs: STOP_GRACE_MS });
        proc.kill('SIGKILL');
      }, STOP_GRACE_MS);
      await exited;
      clearTimeout(timer);
    },
  };
}
