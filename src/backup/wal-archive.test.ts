// Unit tests of the WAL archive on a posix repository: layout, round trips, codecs, re-pushes, conflicts, history files.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PgpilotError } from '../base/errors.js';
import { openRepo, type Repo } from './repo.js';
import { getWal, listWal, parseWalObjectPath, pushWal, walObjectPath } from './wal-archive.js';

/** The repository spec openRepo takes (config's BackupRepoSpec; backup/ does not import config/). */
type BackupRepoSpec = Parameters<typeof openRepo>[0];

let tmp: string;
before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'pgpilot-wal-archive-'));
});
after(async () => fs.rm(tmp, { recursive: true, force: true }));

const identity = { systemId: '7300000000000000001', pgVersion: 15 };
let repoCount = 0;

function spec(dir: string, compress: BackupRepoSpec['compress']['type'], passphraseFile = ''): BackupRepoSpec {
  return {
    name: 'test', path: dir,
    s3: { bucket: '', endpoint: '', region: 'us-east-1', prefix: '', credentialsFile: '', forcePathStyle: true },
    retention: { full: 2, fullType: 'count', diff: 0 },
    schedules: { full: '', diff: '', incr: '' },
    compress: { type: compress, level: 0 },
    encryption: { passphraseFile },
  };
}

/** A new repository in its own directory; encrypted when asked. */
async function newRepo(compress: BackupRepoSpec['compress']['type'], encrypted = false): Promise<Repo> {
  const dir = path.join(tmp, `repo-${++repoCount}`);
  let passphraseFile = '';
  if (encrypted) {
    passphraseFile = path.join(tmp, `passphrase-${repoCount}`);
    await fs.writeFile(passphraseFile, 'correct horse battery staple\n', { mode: 0o600 });
  }
  return openRepo(spec(dir, compress, passphraseFile), { create: identity });
}

/** A local WAL file with this content. */
async function walFileWith(content: Buffer): Promise<string> {
  const file = path.join(tmp, `wal-${randomBytes(4).toString('hex')}`);
  await fs.writeFile(file, content);
  return file;
}

const hash16 = (b: Buffer): string => createHash('sha256').update(b).digest('hex').slice(0, 16);
/** Segment-like content: compressible, with some random bytes. */
const segmentContent = (): Buffer => Buffer.concat([randomBytes(4096), Buffer.alloc(256 * 1024, 7), randomBytes(4096)]);

for (const [label, compress, encrypted] of [
  ['plain', 'none', false], ['zstd', 'zstd', false], ['lz4, encrypted', 'lz4', true], ['gzip, encrypted', 'gzip', true],
] as const) {
  test(`push and get a segment round trip (${label})`, async () => {
    const repo = await newRepo(compress, encrypted);
    const content = segmentContent();
    const name = '000000010000000A000000FF';
    assert.equal(await pushWal(repo, await walFileWith(content), name), 'stored');

    const listed = await listWal(repo);
    assert.equal(listed.length, 1);
    const [w] = listed;
    assert.ok(w);
    assert.equal(w.name, name);
    assert.equal(w.kind, 'segment');
    assert.equal(w.tli, 1);
    assert.equal(w.segNo, 0xaffn);
    assert.equal(w.hash, hash16(content));
    assert.match(w.path, new RegExp(`^wal/000000010000000A/${name}-${hash16(content)}`));
    assert.equal(w.path, walObjectPath(name, hash16(content), w.path.slice(`wal/000000010000000A/${name}-`.length + 16)));
    const stored = await fs.readFile(path.join(repo.storage.location, w.path));
    assert.equal(w.storedSize, stored.length);
    if (compress !== 'none') assert.ok(stored.length < content.length / 2, 'stored compressed');
    if (encrypted) assert.equal(stored.indexOf(content.subarray(0, 64)), -1, 'no plain bytes in an encrypted object');

    const dest = path.join(tmp, `restored-${repoCount}`);
    assert.equal(await getWal(repo, name, dest), true);
    assert.deepEqual(await fs.readFile(dest), content);
    assert.equal(await getWal(repo, '000000010000000A000000FE', path.join(tmp, 'absent')), false);
    await assert.rejects(fs.stat(path.join(tmp, 'absent')));
  });
}

test('the same segment pushed again is a success; different content under the same name is refused', async () => {
  const repo = await newRepo('zstd');
  const name = '000000020000000000000003';
  const content = segmentContent();
  assert.equal(await pushWal(repo, await walFileWith(content), name), 'stored');
  assert.equal(await pushWal(repo, await walFileWith(Buffer.from(content)), name), 'exists');
  await assert.rejects(pushWal(repo, await walFileWith(segmentContent()), name), (e: unknown) => {
    assert.ok(e instanceof PgpilotError);
    assert.equal(e.code, 'Archive');
    assert.equal(e.message, `WAL file ${name} already archived in repo test with different content`);
    assert.ok(e.hint);
    return true;
  });
  assert.deepEqual((await listWal(repo)).map((w) => w.hash), [hash16(content)]);
});

test('a .partial file is stored beside its segment, under its own name', async () => {
  const repo = await newRepo('none');
  const full = segmentContent();
  const partial = segmentContent();
  assert.equal(await pushWal(repo, await walFileWith(full), '000000010000000000000005'), 'stored');
  assert.equal(await pushWal(repo, await walFileWith(partial), '000000010000000000000005.partial'), 'stored');
  const listed = await listWal(repo);
  assert.deepEqual(listed.map((w) => [w.name, w.kind, w.hash]), [
    ['000000010000000000000005', 'segment', hash16(full)],
    ['000000010000000000000005.partial', 'partial', hash16(partial)],
  ]);
  const dest = path.join(tmp, 'partial-restored');
  assert.equal(await getWal(repo, '000000010000000000000005.partial', dest), true);
  assert.deepEqual(await fs.readFile(dest), partial);
});

test('timeline and backup history files live in wal/history/ without a hash; different content is refused', async () => {
  const repo = await newRepo('zstd', true);
  const history = Buffer.from('1\t0/3000158\tno recovery target specified\n');
  const backupHistory = Buffer.from('START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\n');
  assert.equal(await pushWal(repo, await walFileWith(history), '00000002.history'), 'stored');
  assert.equal(await pushWal(repo, await walFileWith(backupHistory), '000000010000000000000002.00000028.backup'), 'stored');
  assert.equal(await pushWal(repo, await walFileWith(Buffer.from(history)), '00000002.history'), 'exists');
  await assert.rejects(pushWal(repo, await walFileWith(Buffer.from('1\t0/4000000\tother\n')), '00000002.history'),
    /WAL file 00000002\.history already archived in repo test with different content/);

  const listed = await listWal(repo);
  assert.deepEqual(listed.map((w) => [w.name, w.kind, w.tli, w.segNo, w.hash]), [
    ['000000010000000000000002.00000028.backup', 'backup-history', 1, 2n, undefined],
    ['00000002.history', 'history', 2, undefined, undefined],
  ]);
  for (const w of listed) assert.ok(w.path.startsWith(`wal/history/${w.name}`), w.path);
  const dest = path.join(tmp, 'history-restored');
  assert.equal(await getWal(repo, '00000002.history', dest), true);
  assert.deepEqual(await fs.readFile(dest), history);
  assert.equal(await getWal(repo, '00000003.history', dest), false);
});

test('files stored with an earlier compression setting are recognised and decoded', async () => {
  const gzip = await newRepo('gzip', true);
  const content = segmentContent();
  assert.equal(await pushWal(gzip, await walFileWith(content), '000000010000000000000010'), 'stored');
  const passphraseFile = path.join(tmp, `passphrase-${repoCount}`);
  const zstd = await openRepo(spec(gzip.storage.location, 'zstd', passphraseFile), { create: identity });
  assert.equal(await pushWal(zstd, await walFileWith(content), '000000010000000000000010'), 'exists');
  const dest = path.join(tmp, 'gzip-restored');
  assert.equal(await getWal(zstd, '000000010000000000000010', dest), true);
  assert.deepEqual(await fs.readFile(dest), content);
});

test('a stored segment whose content does not match its hash is reported corrupt, and nothing is left behind', async () => {
  const repo = await newRepo('none');
  const content = segmentContent();
  await pushWal(repo, await walFileWith(content), '000000010000000000000020');
  const [w] = await listWal(repo);
  assert.ok(w);
  const tampered = Buffer.from(content);
  tampered[100] = (tampered[100] ?? 0) ^ 0xff;
  await fs.writeFile(path.join(repo.storage.location, w.path), tampered);
  const dir = await fs.mkdtemp(path.join(tmp, 'dest-'));
  await assert.rejects(getWal(repo, '000000010000000000000020', path.join(dir, 'RECOVERYXLOG')), (e: unknown) => {
    assert.ok(e instanceof PgpilotError);
    assert.equal(e.code, 'Corrupt');
    return true;
  });
  assert.deepEqual(await fs.readdir(dir), []);
});

test('object paths parse back; names that are not WAL files are refused', async () => {
  assert.deepEqual(parseWalObjectPath('wal/0000000100000002/000000010000000200000003-0123456789abcdef.zst'), {
    name: '000000010000000200000003', file: { kind: 'segment', tli: 1, segNo: 0x203n }, hash: '0123456789abcdef', ext: '.zst',
  });
  assert.equal(parseWalObjectPath('wal/0000000100000009/000000010000000200000003-0123456789abcdef'), undefined, 'wrong directory');
  assert.equal(parseWalObjectPath('wal/history/00000002.history.gz')?.name, '00000002.history');
  assert.equal(parseWalObjectPath('wal/history/notes.txt'), undefined);
  const repo = await newRepo('none');
  await assert.rejects(pushWal(repo, await walFileWith(Buffer.from('x')), 'RECOVERYXLOG'), /"RECOVERYXLOG" is not a WAL file name/);
  await assert.rejects(pushWal(repo, path.join(tmp, 'missing'), '000000010000000000000001'), /cannot read WAL file/);
});
