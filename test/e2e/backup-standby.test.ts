// e2e: spec.backup.fromStandby reads a streaming replica (full and incr restored and started); no replica, the primary.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { readManifest } from '../../src/backup/backup-manifest.js';
import { openRepo } from '../../src/backup/repo.js';
import type { BackupRepoSpec } from '../../src/config/types.js';
import type { BackupSummary } from '../../src/cli/backup-summary.js';
import { waitFor } from '../../src/base/wait.js';
import { cliOk } from '../support/cli.js';
import { query, testCluster, type TestCluster } from '../support/local-cluster.js';
import { readRestored } from '../support/restored.js';

let c: TestCluster;
let tmp: string;
const repoDir = (): string => path.join(tmp, 'repo');

before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'pgpilot-standby-backup-'));
  await fs.chmod(tmp, 0o755);
  c = await testCluster('e2estdby', 2);
  await cliOk(['up', '-f', await c.manifest(2, `  backup: {fromStandby: true, repos: [{name: local, path: ${JSON.stringify(repoDir())}}]}`), '--detach'], c.env);
  await sql('CREATE TABLE t (id int PRIMARY KEY, v text)');
  await sql("INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 20000) g");
  await waitFor(`${c.name}-1 to stream`, async () => (await c.status()).members.some((m) => m.name === `${c.name}-1` && m.role === 'replica' && m.streaming), { timeoutMs: 60_000, intervalMs: 500 });
});
after(async () => {
  await c?.destroy();
  if (tmp !== undefined) await fs.rm(tmp, { recursive: true, force: true });
});

async function sql(text: string, port = c.pgPort): Promise<Record<string, unknown>[]> {
  return query(await c.superuser(port), text);
}

async function digest(port = c.pgPort): Promise<string> {
  const [row] = await sql("SELECT count(*) || '/' || md5(string_agg(id || ':' || v, ',' ORDER BY id)) AS d FROM t", port);
  return String(row?.['d']);
}

async function backup(type: string): Promise<BackupSummary> {
  return JSON.parse(await cliOk(['backup', c.name, '--type', type, '--json'], c.env, 300_000)) as BackupSummary;
}

/** Restores `label` into a new directory, starts PostgreSQL there and returns the table's digest. */
async function restoredDigest(label: string): Promise<string> {
  const dir = path.join(tmp, `restore-${label}`);
  await cliOk(['restore', c.name, '--set', label, '--to-dir', dir], c.env, 300_000);
  return readRestored(dir, (port) => digest(port));
}

async function backupLabelFile(label: string): Promise<string> {
  const spec: BackupRepoSpec = {
    name: 'local', path: repoDir(), s3: { bucket: '', endpoint: '', region: 'us-east-1', prefix: '', credentialsFile: '', forcePathStyle: true },
    retention: { full: 2, fullType: 'count', diff: 0 }, schedules: { full: '', diff: '', incr: '' }, compress: { type: 'zstd', level: 0 },
    encryption: { passphraseFile: '' },
  };
  const m = await readManifest((await openRepo(spec)).storage, label);
  assert.ok(m !== undefined, `backup ${label} has a manifest`);
  return m.backupLabel;
}

async function leaderLog(): Promise<string[]> {
  const text = await fs.readFile(path.join(c.home, c.name, 'members', `${c.name}-0`, 'agent.log'), 'utf8');
  return text.split('\n').filter((l) => l.startsWith('{')).map((l) => (JSON.parse(l) as { msg: string }).msg);
}

test('with fromStandby, full and incr backups read the replica and restore to the contents at backup time', async () => {
  const full = await backup('full');
  const atFull = await digest();
  assert.equal(full.member, `${c.name}-1`, 'the replica was read');
  assert.match(await backupLabelFile(full.label), /^BACKUP FROM: standby$/m);
  assert.ok((await leaderLog()).includes('backup handed to a replica'));

  await sql("UPDATE t SET v = v || 'x' WHERE id % 50 = 0");
  await sql("INSERT INTO t SELECT g, md5(g::text) FROM generate_series(20001, 21000) g");
  const incr = await backup('incr');
  const atIncr = await digest();
  assert.deepEqual([incr.type, incr.member, incr.reference], ['incr', `${c.name}-1`, full.label]);
  assert.equal(await restoredDigest(full.label), atFull, 'the full backup restores the rows at its time');
  assert.equal(await restoredDigest(incr.label), atIncr, 'the incremental restores the rows at its time');
});

test('with fromStandby and no replica to read, the backup reads the primary and says why', async () => {
  await c.killNode(`${c.name}-1`);
  const full = await backup('full');
  assert.equal(full.member, `${c.name}-0`);
  assert.doesNotMatch(await backupLabelFile(full.label), /BACKUP FROM: standby/);
  const log = await leaderLog();
  assert.ok(
    log.includes('the replica did not take the backup: the backup reads the primary') || log.includes('spec.backup.fromStandby is set but no replica streams: the backup reads the primary'),
    'the fallback is logged',
  );
  assert.equal(await restoredDigest(full.label), await digest());
});
