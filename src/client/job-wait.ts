// Running a job on a member to its end: the CLI's backup commands, and a leader handing a backup to a replica.
import { ErrorCode, PgpilotError, errorMessage } from '../base/errors.js';
import { sleep } from '../base/wait.js';
import type { JobInfo, JobKind, JobOptions } from '../api/jobs.js';
import type { ApiClient } from './api-client.js';

export interface JobWaitOptions {
  /** Between two looks at the job. Default: 20 ms at first, a little longer as the job runs on, up to 1 s. */
  intervalMs?: number;
  /** The member may be unreachable (or not know the job, after a restart) this long before the wait gives up. Default 60 s. */
  lostAfterMs?: number;
  /** Called once the member accepted the job. */
  onStarted?: (job: JobInfo) => void;
}

/** Starts the job and waits however long it runs; resolves with its result, a failed job throws the error it reported. */
export async function runJobToEnd(api: ApiClient, kind: JobKind, options: JobOptions, o: JobWaitOptions = {}): Promise<unknown> {
  const started = await api.startJob(kind, options);
  o.onStarted?.(started);
  const lostAfterMs = o.lostAfterMs ?? 60_000;
  const since = Date.now();
  let lastSeen = since;
  for (;;) {
    let job: JobInfo | undefined;
    try {
      job = await api.job(started.id);
      lastSeen = Date.now();
    } catch (e) {
      if (Date.now() - lastSeen > lostAfterMs) {
        throw new PgpilotError('Api', `lost track of ${kind} job ${started.id}: no answer about it for ${Math.round(lostAfterMs / 1000)} s: ${errorMessage(e)}`, {
          hint: 'the member running it may have restarted; see its log, then pgpilot backups to know whether the backup completed',
        });
      }
    }
    if (job !== undefined && job.state !== 'running') return outcome(job);
    // A short job is seen ending soon after it does; a long one is not asked about many times a second.
    await sleep(o.intervalMs ?? Math.min(1000, 20 + (Date.now() - since) / 50));
  }
}

function outcome(job: JobInfo): unknown {
  if (job.state === 'succeeded') return job.result;
  const err = job.error ?? { code: 'Backup', message: `the ${job.kind} job failed` };
  const code = err.code in ErrorCode ? (err.code as keyof typeof ErrorCode) : 'Backup';
  throw new PgpilotError(code, err.message, err.hint === undefined ? {} : { hint: err.hint });
}
