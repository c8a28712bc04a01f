// Unit tests of the backup statistics: successes and failures per repository and type, and the archive status file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { JobInfo } from '../api/jobs.js';
import type { AgentConfig } from '../config/types.js';
import { BackupStats, readArchiveStatus } from './backup-stats.js';

function backupConfig(spoolDir: string, repos: string[]): AgentConfig['backup'] {
  const repo = (name: string): AgentConfig['backup']['repos'][number] => ({
    name,
    path: `/backups/${name}`,
    s3: { bucket: '', endpoint: '', region: 'us-east-1', prefix: '', credentialsFile: '', forcePathStyle: true },
    retention: { full: 2, fullType: 'count', diff: 0 },
    schedules: { full: '', diff: '', incr: '' },
    compress: { type: 'zstd', level: 0 },
    encryption: { passphraseFile: '' },
  });
  return { repos: repos.map(repo), fromStandby: false, jobs: 2, logical: { repo: '', schedule: '', retention: 7, databases: [] }, spoolDir };
}

const job = (overrides: Partial<JobInfo>): JobInfo => ({
  id: 'j', kind: 'backup', options: { type: 'diff' }, origin: 'schedule', state: 'succeeded',
  startedAt: '2024-05-01T01:00:00.000Z', finishedAt: '2024-05-01T01:02:00.000Z', ...overrides,
});

test('a backup result sets the last success of its repository and type; failures count per repository and type', async () => {
  const stats = new BackupStats(backupConfig('/nonexistent', ['main', 's3']));
  // Asked for a diff without a full to refer to: the job took a full.
  const result = { repo: 'main', label: 'x', type: 'full', startTime: '2024-05-01T01:00:01.000Z', stopTime: '2024-05-01T01:01:31.000Z', databaseSize: 5000, storedSize: 1200 };
  stats.record(job({ result }));
  stats.record(job({ state: 'failed', options: { type: 'incr', repo: 's3' }, error: { code: 'Repo', message: 'gone' } }));
  stats.record(job({ state: 'failed', options: { type: 'incr' }, error: { code: 'Backup', message: 'no' } }));
  stats.record(job({ kind: 'verify', state: 'failed', options: {} }));
  stats.record(job({ state: 'running', options: { type: 'full', repo: 'main' } }));
  const m = await stats.metrics();
  assert.equal(m.archive, undefined);
  assert.deepEqual(m.backups.map((b) => `${b.repo}/${b.type}`), ['main/full', 'main/diff', 'main/incr', 's3/full', 's3/diff', 's3/incr']);
  assert.deepEqual(m.backups[0], {
    repo: 'main', type: 'full', lastSuccessAt: Date.parse('2024-05-01T01:01:31Z'), lastDurationSeconds: 90, lastStoredBytes: 1200,
    lastDatabaseBytes: 5000, failures: 0, lastFailureAt: undefined,
  });
  const failed = m.backups.filter((b) => b.failures > 0).map((b) => [b.repo, b.type, b.failures, b.lastFailureAt]);
  const finished = Date.parse('2024-05-01T01:02:00Z');
  assert.deepEqual(failed, [['main', 'incr', 1, finished], ['s3', 'incr', 1, finished]]);
});

test('the archive status file is read when present, tolerated when missing or broken', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pgpilot-stats-'));
  try {
    assert.equal(await readArchiveStatus(dir), undefined);
    await fs.writeFile(path.join(dir, 'archive-status.json'), '{not json');
    assert.equal(await readArchiveStatus(dir), undefined);
    const written = {
      lastArchived: '000000010000000000000003', lastArchivedAt: '2024-05-01T01:00:00.000Z', lastFailed: null, lastFailedAt: null,
      lastError: null, failures: 2, pushedCount: 3, pending: 1,
      repos: { main: { lastArchived: '000000010000000000000003', lastArchivedAt: '2024-05-01T01:00:00.000Z', failures: 2, lastError: null } },
    };
    await fs.writeFile(path.join(dir, 'archive-status.json'), JSON.stringify({ ...written, extra: true }));
    assert.deepEqual(await readArchiveStatus(dir), written);
    assert.deepEqual((await new BackupStats(backupConfig(dir, [])).metrics()).archive, written);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
