// The leader's backup schedules: every second, start the backups and dumps whose cron time passed since the last check.
import { errorMessage } from '../base/errors.js';
import type { Logger } from '../base/log.js';
import { backupTypes, type JobError, type JobInfo, type JobKind, type JobOptions, type JobOrigin } from '../api/jobs.js';
import type { BackupSpec } from '../config/types.js';
import { firesBetween, parseCron, type Cron } from '../model/cron.js';

const TICK_MS = 1_000;

/** One schedule of the config: what to run, and when. */
export interface ScheduledJob {
  /** For logs, e.g. "full backup of main". */
  what: string;
  kind: JobKind;
  options: JobOptions;
  cron: Cron;
}

/** The schedules of the config, in priority order: per repository full, diff, incr; then the logical dump. */
export function scheduledJobs(backup: BackupSpec): ScheduledJob[] {
  const jobs: ScheduledJob[] = [];
  backup.repos.forEach((repo, i) => {
    for (const type of backupTypes) {
      const expr = repo.schedules[type];
      if (expr.trim() === '') continue;
      const cron = parseCron(expr, `backup.repos[${i}].schedules.${type}`);
      jobs.push({ what: `${type} backup of ${repo.name}`, kind: 'backup', options: { type, repo: repo.name }, cron });
    }
  });
  const dump = backup.logical.schedule;
  if (dump.trim() !== '') jobs.push({ what: 'logical dump', kind: 'dump', options: {}, cron: parseCron(dump, 'backup.logical.schedule') });
  return jobs;
}

export interface ScheduleState {
  /** When the schedules were last checked (epoch ms); undefined while not the leader. */
  lastCheck: number | undefined;
  /** Jobs that came due together, run one after the other. */
  queue: ScheduledJob[];
}

export const notLeading: ScheduleState = { lastCheck: undefined, queue: [] };

export interface ScheduleDecision {
  state: ScheduleState;
  /** The job to start now. */
  start: ScheduledJob | undefined;
  /** Came due while a job was running or queued: not run. */
  skipped: ScheduledJob[];
  /** Came due together with a stronger backup of the same repository (a full beats a diff, a diff an incr): not run. */
  superseded: ScheduledJob[];
}

/**
 * One check of the schedules at `now`, pure. A job is due when its cron time lies in (lastCheck, now]. On becoming the
 * leader, checking starts from now (missed runs are not caught up). Jobs due together queue up; a job that comes due
 * while another runs is skipped.
 */
export function decideSchedule(jobs: readonly ScheduledJob[], state: ScheduleState, input: { now: number; leader: boolean; busy: boolean }): ScheduleDecision {
  const { now, leader, busy } = input;
  const none = { start: undefined, skipped: [], superseded: [] };
  if (!leader) return { state: notLeading, ...none };
  if (state.lastCheck === undefined) return { state: { lastCheck: now, queue: [] }, ...none };
  const from = new Date(state.lastCheck);
  const due = jobs.filter((j) => firesBetween(j.cron, from, new Date(now)));
  const superseded = due.filter((j, i) => j.kind === 'backup' && due.slice(0, i).some((k) => k.kind === 'backup' && k.options.repo === j.options.repo));
  const fresh = due.filter((j) => !superseded.includes(j));
  const blocked = busy || state.queue.length > 0;
  const queue = blocked ? [...state.queue] : fresh;
  const start = busy ? undefined : queue.shift();
  return { state: { lastCheck: now, queue }, start, skipped: blocked ? fresh : [], superseded };
}

/** What the scheduler needs of the job manager. */
export interface JobRunner {
  start(kind: JobKind, options: JobOptions, origin: JobOrigin): JobInfo;
  runningMutating(): JobInfo | undefined;
  cancel(id: string, error: JobError): void;
}

export interface SchedulerOptions {
  jobs: readonly ScheduledJob[];
  runner: JobRunner;
  /** Whether this member holds the leader key now. */
  isLeader: () => boolean;
  logger: Logger;
  now?: () => number;
}

/** Checks the schedules every second while this member leads; on losing the lead, stops its mutating job. */
export class Scheduler {
  private state: ScheduleState = notLeading;
  private timer: NodeJS.Timeout | undefined;
  private readonly log: Logger;

  constructor(private readonly o: SchedulerOptions) {
    this.log = o.logger.child({ component: 'scheduler' });
  }

  start(): void {
    this.timer = setInterval(() => this.tick(), TICK_MS);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** One check (the timer calls it; tests call it with a fake clock). */
  tick(): void {
    const leader = this.o.isLeader();
    const wasLeader = this.state.lastCheck !== undefined;
    const running = this.o.runner.runningMutating();
    if (wasLeader && !leader && running !== undefined) {
      // One runner of mutating jobs cluster-wide: the new leader's agent runs them now.
      this.o.runner.cancel(running.id, { code: 'State', message: 'stopped: this member lost the leader key' });
    }
    const now = (this.o.now ?? Date.now)();
    const d = decideSchedule(this.o.jobs, this.state, { now, leader, busy: running !== undefined });
    if (!wasLeader && leader && this.o.jobs.length > 0) this.log.info('leading: backup schedules are checked from now on', { schedules: this.o.jobs.map((j) => `${j.what}: ${j.cron.source}`) });
    this.state = d.state;
    for (const j of d.superseded) this.log.info('scheduled job superseded by a stronger backup due at the same time', { what: j.what });
    for (const j of d.skipped) this.log.warn('scheduled job skipped: another job is running or waiting', { what: j.what, running: running?.id });
    if (d.start !== undefined) this.launch(d.start);
  }

  private launch(j: ScheduledJob): void {
    try {
      const job = this.o.runner.start(j.kind, j.options, 'schedule');
      this.log.info('scheduled job started', { what: j.what, job: job.id });
    } catch (e) {
      this.log.warn('scheduled job not started', { what: j.what, error: errorMessage(e) });
    }
  }
}
