// Unit tests of the backup schedules with a fake clock: what is due when, leadership, queueing, skipping.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../base/log.js';
import type { JobError, JobInfo, JobKind, JobOptions, JobOrigin } from '../api/jobs.js';
import type { BackupRepoSpec, BackupSpec } from '../config/types.js';
import { decideSchedule, notLeading, scheduledJobs, Scheduler, type ScheduleState } from './scheduler.js';

const at = (iso: string): number => Date.parse(iso);

function repo(name: string, schedules: Partial<BackupRepoSpec['schedules']>): BackupRepoSpec {
  return {
    name,
    path: `/backups/${name}`,
    s3: { bucket: '', endpoint: '', region: 'us-east-1', prefix: '', credentialsFile: '', forcePathStyle: true },
    retention: { full: 2, fullType: 'count', diff: 0 },
    schedules: { full: '', diff: '', incr: '', ...schedules },
    compress: { type: 'zstd', level: 0 },
    encryption: { passphraseFile: '' },
  };
}

function spec(repos: BackupRepoSpec[], dump = ''): BackupSpec {
  return { repos, fromStandby: false, jobs: 2, logical: { repo: '', schedule: dump, retention: 7, databases: [] } };
}

/** Full at 01:00 daily, incr every 15 minutes, on repo main; a dump at 02:30. */
const jobs = scheduledJobs(spec([repo('main', { full: '0 1 * * *', incr: '*/15 * * * *' })], '30 2 * * *'));
const whats = (list: ReadonlyArray<{ what: string }>): string[] => list.map((j) => j.what);

test('the config gives one schedule per cron expression, in priority order', () => {
  assert.deepEqual(whats(jobs), ['full backup of main', 'incr backup of main', 'logical dump']);
  assert.deepEqual(jobs.map((j) => [j.kind, j.options]), [['backup', { type: 'full', repo: 'main' }], ['backup', { type: 'incr', repo: 'main' }], ['dump', {}]]);
  assert.throws(() => scheduledJobs(spec([repo('x', { diff: '61 * * * *' })])), /backup\.repos\[0\]\.schedules\.diff: minute field/);
});

test('on becoming the leader, checking starts from now: no catch-up of missed runs', () => {
  const first = decideSchedule(jobs, notLeading, { now: at('2024-05-01T01:14:30Z'), leader: true, busy: false });
  assert.deepEqual([first.start, first.state], [undefined, { lastCheck: at('2024-05-01T01:14:30Z'), queue: [] }]);
  const quiet = decideSchedule(jobs, first.state, { now: at('2024-05-01T01:14:59Z'), leader: true, busy: false });
  assert.equal(quiet.start, undefined);
  const due = decideSchedule(jobs, quiet.state, { now: at('2024-05-01T01:15:00.300Z'), leader: true, busy: false });
  assert.deepEqual(due.start?.options, { type: 'incr', repo: 'main' });
  const again = decideSchedule(jobs, due.state, { now: at('2024-05-01T01:15:01Z'), leader: true, busy: false });
  assert.equal(again.start, undefined, 'a fire time runs once');
});

test('a member that is not the leader runs nothing and forgets where it was', () => {
  const leading: ScheduleState = { lastCheck: at('2024-05-01T00:59:59Z'), queue: [] };
  const d = decideSchedule(jobs, leading, { now: at('2024-05-01T01:00:01Z'), leader: false, busy: false });
  assert.deepEqual([d.start, d.state], [undefined, notLeading]);
});

test('a full supersedes the incr of the same repository due at the same minute', () => {
  const d = decideSchedule(jobs, { lastCheck: at('2024-05-01T00:59:59Z'), queue: [] }, { now: at('2024-05-01T01:00:00Z'), leader: true, busy: false });
  assert.deepEqual(d.start?.options, { type: 'full', repo: 'main' });
  assert.deepEqual(whats(d.superseded), ['incr backup of main']);
  assert.deepEqual(d.skipped, []);
});

test('jobs due together run one after the other; one due while a job runs is skipped', () => {
  const two = scheduledJobs(spec([repo('a', { full: '0 1 * * *' }), repo('b', { full: '0 1 * * *', incr: '1 1 * * *' })]));
  const first = decideSchedule(two, { lastCheck: at('2024-05-01T00:59:59Z'), queue: [] }, { now: at('2024-05-01T01:00:00Z'), leader: true, busy: false });
  assert.equal(first.start?.what, 'full backup of a');
  assert.deepEqual(whats(first.state.queue), ['full backup of b']);
  const running = decideSchedule(two, first.state, { now: at('2024-05-01T01:00:30Z'), leader: true, busy: true });
  assert.equal(running.start, undefined);
  const skipped = decideSchedule(two, running.state, { now: at('2024-05-01T01:01:00Z'), leader: true, busy: true });
  assert.deepEqual(whats(skipped.skipped), ['incr backup of b']);
  const next = decideSchedule(two, skipped.state, { now: at('2024-05-01T01:01:30Z'), leader: true, busy: false });
  assert.equal(next.start?.what, 'full backup of b');
  assert.deepEqual(next.state.queue, []);
});

test('the clock going back fires nothing', () => {
  const d = decideSchedule(jobs, { lastCheck: at('2024-05-01T01:20:00Z'), queue: [] }, { now: at('2024-05-01T01:10:00Z'), leader: true, busy: false });
  assert.equal(d.start, undefined);
  assert.equal(d.state.lastCheck, at('2024-05-01T01:10:00Z'));
});

/** A job runner that records starts and cancels; `running` is the mutating job it pretends to run. */
function fakeRunner(): { started: string[]; cancelled: string[]; running: JobInfo | undefined } & {
  start(kind: JobKind, options: JobOptions, origin: JobOrigin): JobInfo;
  runningMutating(): JobInfo | undefined;
  cancel(id: string, error: JobError): void;
} {
  return {
    started: [],
    cancelled: [],
    running: undefined,
    start(kind, options, origin) {
      const job: JobInfo = { id: `job-${this.started.length + 1}`, kind, options, origin, state: 'running', startedAt: new Date(0).toISOString() };
      this.started.push(`${origin} ${kind} ${JSON.stringify(options)}`);
      this.running = job;
      return job;
    },
    runningMutating() {
      return this.running;
    },
    cancel(id, error) {
      this.cancelled.push(`${id}: ${error.message}`);
    },
  };
}

test('the scheduler starts due jobs while leading and stops its job when it loses the lead', () => {
  let now = at('2024-05-01T00:59:58Z');
  let leader = true;
  const runner = fakeRunner();
  const scheduler = new Scheduler({ jobs, runner, isLeader: () => leader, logger: silentLogger, now: () => now });
  scheduler.tick();
  now = at('2024-05-01T01:00:00.5Z');
  scheduler.tick();
  assert.deepEqual(runner.started, ['schedule backup {"type":"full","repo":"main"}']);
  now = at('2024-05-01T01:15:00.5Z');
  scheduler.tick();
  assert.equal(runner.started.length, 1, 'the incr is skipped: the full still runs');
  leader = false;
  now += 1000;
  scheduler.tick();
  assert.deepEqual(runner.cancelled, ['job-1: stopped: this member lost the leader key']);
  runner.running = undefined;
  now = at('2024-05-01T01:30:00.5Z');
  scheduler.tick();
  assert.equal(runner.started.length, 1, 'not the leader: nothing runs');
});
