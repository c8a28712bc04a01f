// Unit tests of the WAL prefetch: the restore_command run by a real shell as PostgreSQL runs it, the window ahead of
// replay, removal of what replay has passed, and a failing download.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { waitFor } from '../base/wait.js';
import { openRepo, type Repo } from './repo.js';
import { pushWal } from './wal-archive.js';
import { PREFETCH_AHEAD, startWalPrefetch } from './wal-prefetch.js';

const run = promisify(execFile);
let tmp: string;
let repo: Repo;
const segments = Array.from({ length: PREFETCH_AHEAD + 8 }, (_, i) => `0000000100000000000000${(i + 16).toString(16).toUpperCase().padStart(2, '0')}`);

before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'pgpilot-wal-prefetch-'));
  repo = await openRepo({
    name: 'test', path: path.join(tmp, 'repo'),
    s3: { bucket: '', endpoint: '', region: 'us-east-1', prefix: '', credentialsFile: '', forcePathStyle: true },
    retention: { full: 2, fullType: 'count', diff: 0 }, schedules: { full: '', diff: '', incr: '' },
    compress: { type: 'zstd', level: 1 }, encryption: { passphraseFile: '' },
  }, { create: { systemId: '7300000000000000002', pgVersion: 15 } });
  const file = path.join(tmp, 'segment');
  for (const name of [...segments, '00000002.history']) {
    await fs.writeFile(file, `content of ${name}\n`);
    await pushWal(repo, file, name);
  }
});
after(async () => fs.rm(tmp, { recursive: true, force: true }));

/** Runs the restore_command for one file the way PostgreSQL does (%f, %p and %% replaced, through sh). */
async function restoreCommand(command: string, file: string, dest: string): Promise<number> {
  const line = command.replace(/%[fp%]/g, (m) => (m === '%f' ? file : m === '%p' ? dest : '%'));
  return run('sh', ['-c', line]).then(() => 0, (e: { code?: number }) => e.code ?? -1);
}

test('recovery reads the chain through the prefetch, which stays a window ahead and removes what was read', async () => {
  const dir = path.join(tmp, 'walA');
  const prefetch = await startWalPrefetch(repo, { histories: ['00000002.history'], segments }, dir, 2);
  try {
    const dest = path.join(tmp, 'RECOVERYXLOG');
    assert.equal(await restoreCommand(prefetch.restoreCommand, '00000002.history', dest), 0, 'a history file is there before recovery starts');
    assert.equal(await fs.readFile(dest, 'utf8'), 'content of 00000002.history\n');
    assert.equal(await restoreCommand(prefetch.restoreCommand, '00000003.history', dest), 1, 'a file outside the chain is not in the archive');
    // Nothing read yet: the prefetch stops PREFETCH_AHEAD segments in.
    await waitFor('the window to fill', async () => (await fs.readdir(dir)).filter((f) => segments.includes(f)).length === PREFETCH_AHEAD, { timeoutMs: 10_000, intervalMs: 20 });
    assert.equal((await fs.readdir(dir)).filter((f) => segments.includes(f)).length, PREFETCH_AHEAD, 'no further than the window');
    for (const s of segments) {
      assert.equal(await restoreCommand(prefetch.restoreCommand, s, dest), 0, `${s} restored`);
      assert.equal(await fs.readFile(dest, 'utf8'), `content of ${s}\n`);
    }
    await prefetch.done;
    const left = (await fs.readdir(dir)).filter((f) => segments.includes(f));
    assert.ok(left.length <= PREFETCH_AHEAD + 1 && !left.includes(segments[0] as string), `segments replay passed are removed: ${left.join(' ')}`);
  } finally {
    await prefetch.stop();
  }
});

test('a segment that cannot be fetched fails the prefetch with its name', async () => {
  const missing = '0000000100000000000000FF';
  const prefetch = await startWalPrefetch(repo, { histories: [], segments: [missing] }, path.join(tmp, 'walB'), 2);
  await assert.rejects(prefetch.done, (e: Error) => e.message.includes(missing));
  await prefetch.stop();
});
