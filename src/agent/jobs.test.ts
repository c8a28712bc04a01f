// JobManager on real child processes (small node scripts in place of `pgpilot job`): results, errors, the lock, stops.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import type { PgpilotError } from '../base/errors.js';
import { silentLogger } from '../base/log.js';
import type { JobInfo } from '../api/jobs.js';
import { JobManager, pgpilotJobCommand, type JobCommand } from './jobs.js';

/** A job command running `script` with node; the script gets the kind and the options JSON as arguments. */
const script = (source: string): JobCommand => (kind, options) => [process.execPath, '-e', source, kind, JSON.stringify(options)];

const echo = script(`
  const [kind, options] = process.argv.slice(1);
  console.log('not the result');
  console.log(JSON.stringify({ ok: true, result: { kind, options: JSON.parse(options) } }));
`);
const failing = script(`
  console.log(JSON.stringify({ ok: false, error: { code: 'Repo', message: 'repository main is missing', hint: 'create it' } }));
  process.exitCode = 100;
`);
const hanging = script('process.on("SIGTERM", () => process.exit(3)); setInterval(() => undefined, 1000);');

/** A manager whose finished jobs resolve `finished(id)`. */
function manager(command: JobCommand): { jobs: JobManager; finished: (id: string) => Promise<JobInfo> } {
  const waiting = new Map<string, (job: JobInfo) => void>();
  const ended = new Map<string, JobInfo>();
  const jobs = new JobManager({
    command,
    logger: silentLogger,
    stopGraceMs: 5_000,
    onFinished: (job) => {
      ended.set(job.id, { ...job });
      waiting.get(job.id)?.({ ...job });
    },
  });
  const finished = (id: string): Promise<JobInfo> => {
    const done = ended.get(id);
    return done !== undefined ? Promise.resolve(done) : new Promise((resolve) => waiting.set(id, resolve));
  };
  return { jobs, finished };
}

test('a job runs the command with its kind and options and keeps the last stdout line as its result', async () => {
  const { jobs, finished } = manager(echo);
  const started = jobs.start('backup', { type: 'full', repo: 'main' }, 'api');
  assert.deepEqual([started.state, started.origin, started.finishedAt], ['running', 'api', undefined]);
  const done = await finished(started.id);
  assert.equal(done.state, 'succeeded');
  assert.deepEqual(done.result, { kind: 'backup', options: { type: 'full', repo: 'main' } });
  assert.ok(done.finishedAt !== undefined && done.finishedAt >= done.startedAt);
  assert.deepEqual(jobs.get(started.id), done);
  assert.equal(jobs.runningMutating(), undefined);
});

test('a failed job keeps the error the command reported', async () => {
  const { jobs, finished } = manager(failing);
  const done = await finished(jobs.start('verify', {}, 'schedule').id);
  assert.equal(done.state, 'failed');
  assert.deepEqual(done.error, { code: 'Repo', message: 'repository main is missing', hint: 'create it' });
  await assert.rejects(jobs.runAndWait('list', {}, 10_000), (e: PgpilotError) => {
    assert.deepEqual([e.code, e.message, e.hint], ['Repo', 'repository main is missing', 'create it']);
    return true;
  });
});

test('a command that ends without a result, or cannot start, fails with a Program error', async () => {
  const { jobs, finished } = manager(script('process.exit(7)'));
  const silent = await finished(jobs.start('expire', {}, 'api').id);
  assert.deepEqual(silent.error, { code: 'Program', message: 'the expire job exited with code 7 without a result', hint: 'see the agent log for its messages' });
  const missing = manager(() => ['/nonexistent/pgpilot-job']);
  const failed = await missing.finished(missing.jobs.start('dump', {}, 'api').id);
  assert.equal(failed.error?.code, 'Program');
  assert.match(failed.error?.message ?? '', /^could not run the dump job: .*ENOENT/);
});

test('one mutating job at a time (409), read-only jobs alongside it', async () => {
  const { jobs, finished } = manager(script(`
    if (process.argv[1] === 'list') console.log(JSON.stringify({ ok: true, result: { repos: [] } }));
    else setInterval(() => undefined, 1000);
  `));
  const backup = jobs.start('backup', { type: 'incr' }, 'api');
  assert.throws(() => jobs.start('dump', {}, 'schedule'), (e: PgpilotError) => {
    assert.equal(e.code, 'State');
    assert.match(e.message, new RegExp(`^a backup job is already running \\(id ${backup.id}: backup since `));
    return true;
  });
  assert.equal(jobs.runningMutating()?.id, backup.id);
  assert.deepEqual(await jobs.runAndWait('list', {}, 10_000), { repos: [] });
  assert.deepEqual(jobs.list().map((j) => [j.kind, j.state]), [['list', 'succeeded'], ['backup', 'running']]);

  jobs.cancel(backup.id, { code: 'State', message: 'stopped: this member lost the leader key' });
  const stopped = await finished(backup.id);
  assert.deepEqual([stopped.state, stopped.error?.message], ['failed', 'stopped: this member lost the leader key']);
  const next = jobs.start('dump', {}, 'schedule');
  jobs.cancel(next.id, { code: 'State', message: 'done with it' });
  await finished(next.id);
});

test('runAndWait stops a job that runs past its timeout and fails with a Timeout error', async () => {
  const { jobs } = manager(hanging);
  await assert.rejects(jobs.runAndWait('list', {}, 200), (e: PgpilotError) => {
    assert.deepEqual([e.code, e.message], ['Timeout', 'the list job did not finish within 0.2 s: stopped it']);
    return true;
  });
  assert.equal(jobs.list()[0]?.state, 'failed');
});

test('stop() ends the running jobs and refuses new ones', async () => {
  const { jobs } = manager(hanging);
  const a = jobs.start('backup', { type: 'full' }, 'schedule');
  jobs.start('dumps', {}, 'api');
  await jobs.stop();
  assert.deepEqual(jobs.list().map((j) => [j.state, j.error?.message]), [['failed', 'stopped: the agent is stopping'], ['failed', 'stopped: the agent is stopping']]);
  assert.equal(jobs.get(a.id)?.state, 'failed');
  assert.throws(() => jobs.start('list', {}, 'api'), /the agent is stopping/);
});

test('only the last 50 jobs are kept', async () => {
  const { jobs } = manager(() => ['printf', '{"ok":true,"result":{}}\n']);
  for (let i = 0; i < 52; i++) await jobs.runAndWait('dumps', {}, 10_000);
  const kept = jobs.list();
  assert.equal(kept.length, 50);
  assert.ok((kept[0]?.startedAt ?? '') >= (kept[49]?.startedAt ?? ''));
});

test('the real command runs bin/pgpilot.js job KIND with the config and options, dying with the agent', () => {
  const argv = pgpilotJobCommand('conf/agent.yaml')('backup', { type: 'diff' });
  assert.deepEqual(argv.slice(0, 5), ['setpriv', '--pdeathsig', 'SIGTERM', '--', process.execPath]);
  const bin = argv.findIndex((a) => a.endsWith('/bin/pgpilot.js'));
  assert.ok(bin > 4 && fs.existsSync(argv[bin] ?? ''));
  assert.deepEqual(argv.slice(bin + 1), ['job', 'backup', '--config', `${process.cwd()}/conf/agent.yaml`, '--options', '{"type":"diff"}']);
});
