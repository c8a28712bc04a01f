// Unit tests of the WAL archiver loop on a fake pg_wal: pushes to every repository, done markers, status, refusals.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { silentLogger } from '../base/log.js';
import { waitFor } from '../base/wait.js';
import { doneDir } from './archive-command.js';
import { readArchiveStatus, WalArchiver } from './archiver.js';
import { openRepo } from './repo.js';
import { listWal, pushWal } from './wal-archive.js';

/** The repository spec openRepo takes (config's BackupRepoSpec; backup/ does not import config/). */
type BackupRepoSpec = Parameters<typeof openRepo>[0];

let tmp: string;
before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'pgpilot-archiver-'));
});
after(async () => fs.rm(tmp, { recursive: true, force: true }));

const identity = { systemId: '7300000000000000002', pgVersion: 15 };

function spec(name: string): BackupRepoSpec {
  return {
    name, path: path.join(tmp, name),
    s3: { bucket: '', endpoint: '', region: 'us-east-1', prefix: '', credentialsFile: '', forcePathStyle: true },
    retention: { full: 2, fullType: 'count', diff: 0 },
    schedules: { full: '', diff: '', incr: '' },
    compress: { type: 'zstd', level: 0 },
    encryption: { passphraseFile: '' },
  };
}

const exists = (file: string): Promise<boolean> => fs.stat(file).then(() => true, () => false);

test('pushes ready files to every repository, marks them done, cleans markers after PostgreSQL renames, reports refusals', async () => {
  const walDir = path.join(tmp, 'data', 'pg_wal');
  const statusDir = path.join(walDir, 'archive_status');
  const spoolDir = path.join(tmp, 'spool');
  await fs.mkdir(statusDir, { recursive: true });
  await fs.mkdir(doneDir(spoolDir), { recursive: true });
  await fs.writeFile(path.join(doneDir(spoolDir), '0000000100000000000000AA'), '');
  const ready = async (name: string, content: Buffer): Promise<void> => {
    await fs.writeFile(path.join(walDir, name), content);
    await fs.writeFile(path.join(statusDir, `${name}.ready`), '');
  };
  const marker = (name: string): string => path.join(doneDir(spoolDir), name);
  const archiver = new WalArchiver({
    walDir, spoolDir, jobs: 2, logger: silentLogger,
    targets: ['one', 'two'].map((name) => ({ name, open: () => openRepo(spec(name), { create: identity }) })),
    now: () => new Date('2024-05-01T12:00:00Z'),
  });
  await archiver.start();
  try {
    assert.equal(await exists(marker('0000000100000000000000AA')), false, 'markers of an earlier run are dropped');
    assert.equal((await fs.stat(doneDir(spoolDir))).mode & 0o777, 0o755);

    const names = ['000000010000000000000001', '000000010000000000000002', '000000010000000000000003', '00000002.history'];
    for (const name of names) await ready(name, name.endsWith('.history') ? Buffer.from('1\t0/3000000\tno recovery target specified\n') : randomBytes(64 * 1024));
    await waitFor('done markers', async () => (await Promise.all(names.map((n) => exists(marker(n))))).every(Boolean), { timeoutMs: 10_000, intervalMs: 50 });
    for (const repo of ['one', 'two']) {
      const listed = await listWal(await openRepo(spec(repo)));
      assert.deepEqual(listed.map((w) => w.name).sort(), [...names].sort(), repo);
    }
    const status = await waitFor('the status to count every push', async () => {
      const s = await readArchiveStatus(spoolDir);
      return s?.pushedCount === names.length && s.pending === 0 ? s : undefined;
    }, { timeoutMs: 5_000, intervalMs: 50 });
    assert.equal(status.failures, 0);
    assert.equal(status.lastArchivedAt, '2024-05-01T12:00:00.000Z');
    assert.ok(names.includes(status.lastArchived ?? ''));
    assert.deepEqual(Object.keys(status.repos).sort(), ['one', 'two']);

    // PostgreSQL's archiver saw the markers and renamed the .ready files: the markers go.
    for (const name of names) await fs.rename(path.join(statusDir, `${name}.ready`), path.join(statusDir, `${name}.done`));
    await waitFor('markers to be removed', async () => !(await Promise.all(names.map((n) => exists(marker(n))))).some(Boolean), { timeoutMs: 5_000, intervalMs: 50 });

    // Repository two already holds different content under the next name: no marker, the failure is reported.
    const next = '000000010000000000000004';
    const other = path.join(tmp, 'other-content');
    await fs.writeFile(other, randomBytes(1024));
    await pushWal(await openRepo(spec('two')), other, next);
    await ready(next, randomBytes(1024));
    const failed = await waitFor('the refusal in the status', async () => {
      const s = await readArchiveStatus(spoolDir);
      return s !== undefined && s.failures > 0 ? s : undefined;
    }, { timeoutMs: 5_000, intervalMs: 50 });
    assert.equal(failed.lastFailed, next);
    assert.match(failed.lastError ?? '', /already archived in repo two with different content/);
    assert.equal(failed.pending, 1);
    assert.equal(failed.repos['two']?.failures, 1);
    assert.equal(failed.repos['one']?.lastArchived, next, 'repository one took it');
    assert.equal(await exists(marker(next)), false);
  } finally {
    await archiver.stop();
  }
});

test('an archiver without pg_wal yet waits for it', async () => {
  const walDir = path.join(tmp, 'later', 'pg_wal');
  const spoolDir = path.join(tmp, 'later-spool');
  const archiver = new WalArchiver({
    walDir, spoolDir, jobs: 1, logger: silentLogger,
    targets: [{ name: 'three', open: () => openRepo(spec('three'), { create: identity }) }],
  });
  await archiver.start();
  try {
    await fs.mkdir(path.join(walDir, 'archive_status'), { recursive: true });
    await fs.writeFile(path.join(walDir, '000000010000000000000001'), randomBytes(1024));
    await fs.writeFile(path.join(walDir, 'archive_status', '000000010000000000000001.ready'), '');
    await waitFor('the marker', () => exists(path.join(doneDir(spoolDir), '000000010000000000000001')), { timeoutMs: 5_000, intervalMs: 50 });
  } finally {
    await archiver.stop();
  }
});
