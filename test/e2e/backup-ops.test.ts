// e2e: backup operations on a two-member cluster: a per-minute schedule fires once per cluster, an interrupted backup is
// never listed complete, logical dumps through the CLI, and a failing repository shows in archive-status and /metrics.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { waitFor } from '../../src/base/wait.js';
import type { BackupEntry, JobInfo } from '../../src/api/jobs.js';
import { cliOk, runCli, type CliResult } from '../support/cli.js';
import { query, testCluster, type TestCluster } from '../support/local-cluster.js';
import { startS3rver, type S3rver } from '../support/s3rver.js';

const run = promisify(execFile);
let c: TestCluster;
let s3: S3rver;
let tmp: string;

before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'pgpilot-backup-ops-'));
  await fs.chmod(tmp, 0o755);
  s3 = await startS3rver();
  const creds = path.join(tmp, 's3.credentials');
  await fs.writeFile(creds, `aws_access_key_id = ${s3.accessKeyId}\naws_secret_access_key = ${s3.secretAccessKey}\n`, { mode: 0o600 });
  const repos = [
    `{name: local, path: ${JSON.stringify(path.join(tmp, 'local'))}}`,
    `{name: sched, path: ${JSON.stringify(path.join(tmp, 'sched'))}, schedules: {incr: "* * * * *"}, retention: {full: 9}}`,
    `{name: s3, s3: {bucket: ${s3.bucket}, endpoint: ${JSON.stringify(s3.endpoint)}, credentialsFile: ${JSON.stringify(creds)}}}`,
  ];
  c = await testCluster('e2ebops', 2);
  await cliOk(['up', '-f', await c.manifest(2, `  backup: {repos: [${repos.join(', ')}]}`), '--detach'], c.env);
  await query(await c.superuser(c.pgPort, 'app'), "CREATE TABLE notes AS SELECT g AS id, 'note ' || g AS body FROM generate_series(1, 500) g");
});
after(async () => {
  await c?.destroy();
  await s3?.stop();
  if (tmp !== undefined) await fs.rm(tmp, { recursive: true, force: true });
});

/** Runs a CLI command that starts a job, again while a scheduled job holds the member (409 "already running"). */
async function jobCli(args: string[]): Promise<CliResult> {
  return waitFor(`pgpilot ${args.join(' ')}`, async () => {
    const r = await runCli(args, c.env, 300_000);
    return /already running/.test(r.stderr) ? undefined : r;
  }, { timeoutMs: 180_000, intervalMs: 1000 });
}

async function listing(repo: string): Promise<BackupEntry[]> {
  const list = JSON.parse(await cliOk(['backups', c.name, '--json'], c.env)) as { repos: { name: string; backups?: BackupEntry[] }[] };
  return list.repos.find((r) => r.name === repo)?.backups ?? [];
}

async function apiJobs(port: number): Promise<JobInfo[]> {
  return (await (await fetch(`http://127.0.0.1:${port}/jobs`)).json()) as JobInfo[];
}

test('a per-minute schedule fires once per cluster: one backup per minute, all from the leader', async () => {
  const first = await waitFor('a scheduled backup', async () => (await listing('sched')).find((b) => b.status === 'complete'), { timeoutMs: 150_000, intervalMs: 2000 });
  const minute = (b: BackupEntry): string => (b.startTime ?? '').slice(0, 16);
  // Let the next minute's run happen too, then check every minute has exactly one backup.
  await waitFor('a second scheduled backup', async () => ((await listing('sched')).filter((b) => b.status === 'complete').length >= 2 ? true : undefined), { timeoutMs: 150_000, intervalMs: 2000 });
  const all = await listing('sched');
  const perMinute = new Map<string, number>();
  for (const b of all) perMinute.set(minute(b), (perMinute.get(minute(b)) ?? 0) + 1);
  assert.ok([...perMinute.values()].every((n) => n === 1), `one backup per minute: ${JSON.stringify([...perMinute])}`);
  assert.equal(first.type, 'full', 'the first incremental with no full to refer to became a full');
  // Jobs by origin: the leader ran the scheduled ones, the replica none.
  const s = await c.status();
  const leader = s.members.find((m) => m.role === 'primary');
  const replica = s.members.find((m) => m.role === 'replica');
  assert.ok(leader !== undefined && replica !== undefined);
  const apiPort = (name: string): number => c.apiPort + Number(name.split('-').at(-1));
  assert.ok((await apiJobs(apiPort(leader.name))).some((j) => j.origin === 'schedule' && j.state === 'succeeded'));
  assert.ok(!(await apiJobs(apiPort(replica.name))).some((j) => j.origin === 'schedule'), 'the replica ran no scheduled job');
});

test('an interrupted backup is listed incomplete, never complete, and the next expiry removes it', async () => {
  const marker = path.join(tmp, 'local', 'backup');
  const backup = jobCli(['backup', c.name, '--repo', 'local', '--type', 'full']);
  // Kill the job process as soon as the backup has started writing.
  const label = await waitFor('the backup to start', async () => (await fs.readdir(marker).catch(() => []))[0], { timeoutMs: 120_000, intervalMs: 20 });
  const { stdout } = await run('pgrep', ['-f', 'pgpilot.js job backup']);
  for (const pid of stdout.trim().split('\n').filter((p) => p !== '')) process.kill(Number(pid), 'SIGKILL');
  const r = await backup;
  assert.notEqual(r.code, 0, 'the interrupted backup fails');
  const entry = (await listing('local')).find((b) => b.label === label);
  assert.equal(entry?.status, 'incomplete');
  // A complete backup afterwards, then expiry removes the leftover.
  assert.equal((await jobCli(['backup', c.name, '--repo', 'local', '--type', 'full'])).code, 0);
  const after = await listing('local');
  assert.ok(!after.some((b) => b.label === label), 'the incomplete backup was expired');
  assert.ok(after.some((b) => b.status === 'complete'));
});

test('logical dumps through the CLI: dump, list, and restore into a new database', async () => {
  const d = await jobCli(['dump', c.name, '--db', 'app', '--json']);
  assert.equal(d.code, 0, d.stderr);
  const { label } = JSON.parse(d.stdout) as { label: string };
  await query(await c.superuser(c.pgPort, 'app'), 'DELETE FROM notes WHERE id > 100');
  const list = JSON.parse(await cliOk(['dumps', c.name, '--json'], c.env)) as { repos: { dumps?: { label: string; status: string }[] }[] };
  assert.ok(list.repos[0]?.dumps?.some((x) => x.label === label && x.status === 'complete'));
  const r = await jobCli(['dump-restore', c.name, '--label', label, '--db', 'app', '--into', 'app_copy']);
  assert.equal(r.code, 0, r.stderr);
  const [row] = await query<{ n: string }>(await c.superuser(c.pgPort, 'app_copy'), 'SELECT count(*)::text AS n FROM notes');
  assert.equal(row?.n, '500');
});

test('a repository that fails shows in archive-status and /metrics within a minute', async () => {
  await s3.stop();
  await query(await c.superuser(c.pgPort), 'SELECT pg_switch_wal()');
  await query(await c.superuser(c.pgPort), 'CREATE TABLE more AS SELECT 1 AS x');
  await query(await c.superuser(c.pgPort), 'SELECT pg_switch_wal()');
  const status = await waitFor('archive failures in archive-status', async () => {
    const s = JSON.parse(await cliOk(['archive-status', c.name, '--json'], c.env)) as { failures: number; lastError: string | null };
    return s.failures > 0 ? s : undefined;
  }, { timeoutMs: 60_000, intervalMs: 1000 });
  assert.match(status.lastError ?? '', /s3/i);
  const leader = (await c.status()).members.find((m) => m.role === 'primary');
  const metrics = await (await fetch(`http://127.0.0.1:${c.apiPort + Number(leader?.name.split('-').at(-1))}/metrics`)).text();
  const failures = /pgpilot_archive_failures_total\{[^}]*\} (\d+)/.exec(metrics);
  assert.ok(Number(failures?.[1]) > 0, `archive failures in /metrics:\n${metrics.split('\n').filter((l) => l.includes('archive')).join('\n')}`);
  // A backup to the dead repository fails clearly and is counted.
  const b = await jobCli(['backup', c.name, '--repo', 's3', '--type', 'full']);
  assert.notEqual(b.code, 0);
  assert.match(b.stderr, /s3:\/\/|endpoint|repository/i);
  const after = await (await fetch(`http://127.0.0.1:${c.apiPort + Number(leader?.name.split('-').at(-1))}/metrics`)).text();
  assert.match(after, /pgpilot_backup_failures_total\{[^}]*repo="s3"[^}]*\} [1-9]/);
});
