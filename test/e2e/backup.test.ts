// e2e: physical backups on real PostgreSQL, to posix and S3 (s3rver), plain and encrypted: full/diff/incr restored and started.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { PgpilotError } from '../../src/base/errors.js';
import { parseManifest, readManifest, writeManifest } from '../../src/backup/backup-manifest.js';
import { openRepo } from '../../src/backup/repo.js';
import { type WalChanges, mergeChanges, scanPart, scanParts, scanWal } from '../../src/backup/wal-records.js';
import { type ScanResult, walChangesBetween } from '../../src/backup/wal-changes.js';
import { readSummary, summaryDir } from '../../src/backup/wal-summary.js';
import { findStored } from '../../src/backup/wal-archive.js';
import { waitFor } from '../../src/base/wait.js';
import { parseLsn } from '../../src/model/lsn.js';
import { walFileName } from '../../src/model/wal.js';
import type { BackupRepoSpec } from '../../src/config/types.js';
import type { BackupSummary } from '../../src/cli/backup-summary.js';
import { cliOk, runCli } from '../support/cli.js';
import { query, testCluster, type TestCluster } from '../support/local-cluster.js';
import { readRestored } from '../support/restored.js';
import { startS3rver, type S3rver } from '../support/s3rver.js';

const run = promisify(execFile);
let c: TestCluster;
let s3: S3rver;
let tmp: string;
let primaryPort = 0;
const repoDir = (name: string): string => path.join(tmp, `repo-${name}`);

before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'pgpilot-backup-'));
  await fs.chmod(tmp, 0o755);
  s3 = await startS3rver();
  const secret = path.join(tmp, 'passphrase');
  await fs.writeFile(secret, 'correct horse battery staple\n', { mode: 0o600 });
  const creds = path.join(tmp, 's3.credentials');
  await fs.writeFile(creds, `[default]\naws_access_key_id = ${s3.accessKeyId}\naws_secret_access_key = ${s3.secretAccessKey}\n`, { mode: 0o600 });
  const s3repo = (name: string, extra: string): string =>
    `{name: ${name}, s3: {bucket: ${s3.bucket}, endpoint: ${JSON.stringify(s3.endpoint)}, prefix: ${name}, credentialsFile: ${JSON.stringify(creds)}}, ${extra}}`;
  const repos = [
    `{name: local, path: ${JSON.stringify(repoDir('local'))}, retention: {full: 2}}`,
    `{name: secret, path: ${JSON.stringify(repoDir('secret'))}, retention: {full: 9}, compress: {type: gzip}, encryption: {passphraseFile: ${JSON.stringify(secret)}}}`,
    s3repo('s3enc', `compress: {type: lz4}, encryption: {passphraseFile: ${JSON.stringify(secret)}}`),
    s3repo('s3plain', 'compress: {type: none}'),
  ];
  c = await testCluster('e2ebackup', 1);
  await cliOk(['up', '-f', await c.manifest(1, `  backup: {repos: [${repos.join(', ')}]}`), '--detach'], c.env);
  primaryPort = c.pgPort;
  // A table large enough for whole-file objects and page deltas (several MiB), and a small one for bundles.
  await sql('CREATE TABLE big (id int PRIMARY KEY, v text)');
  await sql("INSERT INTO big SELECT g, repeat(md5(g::text), 3) FROM generate_series(1, 40000) g");
  await sql('CREATE TABLE small (id int, v text)');
  await sql("INSERT INTO small VALUES (1, 'one'), (2, 'two')");
  await sql('CREATE TABLE fresh (id int)');
});
after(async () => {
  await c?.destroy();
  await s3?.stop();
  if (tmp !== undefined) await fs.rm(tmp, { recursive: true, force: true });
});

async function sql(text: string, port = primaryPort): Promise<Record<string, unknown>[]> {
  return query(await c.superuser(port), text);
}

/** The contents of the tables, as one digest. */
async function snapshot(port = primaryPort): Promise<string> {
  const [row] = await sql("SELECT md5(string_agg(id || ':' || v, ',' ORDER BY id)) || '/' || (SELECT md5(string_agg(id || ':' || v, ',' ORDER BY id)) FROM small) || '/' || (SELECT count(*) || ':' || coalesce(sum(id), 0) FROM fresh) AS d FROM big", port);
  return String(row?.['d']);
}

async function backup(repo: string, type: string): Promise<BackupSummary & { repo: string }> {
  return JSON.parse(await cliOk(['backup', c.name, '--repo', repo, '--type', type, '--json'], c.env, 300_000)) as BackupSummary & { repo: string };
}

async function backups(repo: string): Promise<BackupSummary[]> {
  const list = JSON.parse(await cliOk(['backups', c.name, '--json'], c.env)) as { repos: { name: string; backups: BackupSummary[] }[] };
  return list.repos.find((r) => r.name === repo)?.backups ?? [];
}

/** Restores `label` into a new directory, starts PostgreSQL on it and returns the tables' digest there. */
async function restoredSnapshot(repo: string, label: string): Promise<string> {
  const dir = path.join(tmp, `restore-${repo}-${label}`);
  await cliOk(['restore', c.name, '--repo', repo, '--set', label, '--to-dir', dir], c.env, 300_000);
  return readRestored(dir, (port) => snapshot(port));
}

async function change(n: number): Promise<void> {
  await sql(`UPDATE big SET v = v || '${n}' WHERE id % 97 = ${n % 97}`);
  await sql(`INSERT INTO small VALUES (${n + 10}, 'row ${n}')`);
}

test('full, diff and incr on a posix repository each restore to the contents at backup time', async () => {
  const states: [string, string][] = [];
  for (const [i, type] of ['full', 'diff', 'incr'].entries()) {
    if (i > 0) await change(i);
    const want = await snapshot();
    const b = await backup('local', type);
    assert.equal(b.type, type);
    states.push([b.label, want]);
  }
  const list = await backups('local');
  const [full, diff, incr] = states.map(([label]) => list.find((b) => b.label === label));
  assert.equal(full?.status, 'complete');
  assert.equal(diff?.reference, full?.label);
  assert.equal(incr?.reference, diff?.label);
  // The incremental stores the changed pages only: far less than the full.
  assert.ok((incr?.storedSize ?? Infinity) < (full?.storedSize ?? 0) / 4, `incr stored ${incr?.storedSize} vs full ${full?.storedSize}`);
  for (const [label, want] of states) assert.equal(await restoredSnapshot('local', label), want, `restore of ${label}`);
});

test('an incr reads only the blocks the WAL names, and restores exactly across a truncation, a re-extension and a new file', async () => {
  await sql('VACUUM big');
  const full = await backup('local', 'full');
  await sql('DELETE FROM big WHERE id > 30000');
  // VACUUM truncates the emptied end of the file (the WAL records the truncation), the insert extends it again (rows
  // too wide for the free space left in the other pages).
  await sql('VACUUM big');
  await sql("UPDATE big SET v = v || 'w' WHERE id IN (5, 20000)");
  await sql("INSERT INTO big SELECT g, repeat('x', 1000) FROM generate_series(30001, 30500) g");
  // TRUNCATE gives fresh a new file, which the full does not have.
  await sql('TRUNCATE fresh');
  await sql('INSERT INTO fresh SELECT generate_series(1, 5000)');
  const want = await snapshot();
  const incr = await backup('local', 'incr');
  assert.equal(incr.reference, full.label);
  // big's changed blocks came from the WAL: the file was not read whole (no SHA-256 of it), only its changed pages.
  const bigPath = String((await sql("SELECT pg_relation_filepath('big') AS p"))[0]?.['p']);
  const manifest = parseManifest(await fs.readFile(path.join(repoDir('local'), 'backup', incr.label, 'backup.manifest')), incr.label);
  const entry = manifest.files.find((f) => f.path === bigPath);
  assert.ok(entry?.store.kind === 'delta', `big is stored as a delta: ${JSON.stringify(entry?.store)}`);
  assert.equal(entry.sha256, undefined, 'found from the WAL, not by reading the whole file');
  assert.ok(entry.store.pages < entry.size / 8192 / 2, `${entry.store.pages} of ${entry.size / 8192} pages stored`);
  assert.equal(await restoredSnapshot('local', incr.label), want);
});

test('the WAL reader finds exactly the blocks, creations and truncations pg_waldump lists', async () => {
  const lsn = async (): Promise<string> => String((await sql('SELECT pg_current_wal_insert_lsn()::text AS l'))[0]?.['l']);
  const start = await lsn();
  await sql('CREATE TABLE shrink AS SELECT g FROM generate_series(1, 20000) g');
  // Switches spread the WAL over several segments, for the scan in parts below.
  await sql('SELECT pg_switch_wal()');
  await sql('DELETE FROM shrink WHERE g > 10000');
  await sql('SELECT pg_switch_wal()');
  await sql('VACUUM shrink');
  await change(40);
  await sql('TRUNCATE fresh');
  await sql('INSERT INTO fresh SELECT generate_series(1, 1000)');
  const end = await lsn();
  const tli = Number((await sql('SELECT timeline_id AS t FROM pg_control_checkpoint()'))[0]?.['t']);
  const walDir = path.join(c.home, c.name, 'members', `${c.name}-0`, 'data', 'pg_wal');
  const load = async (segNo: number, into: Buffer): Promise<boolean> => {
    (await fs.readFile(path.join(walDir, walFileName(tli, BigInt(segNo))))).copy(into);
    return true;
  };
  const ours = await scanWal(Number(parseLsn(start)), Number(parseLsn(end)), load);
  const parts = scanParts(Number(parseLsn(start)), Number(parseLsn(end)), 3);
  assert.equal(parts.length, 3, 'the WAL spans three segments or more');
  const inParts = mergeChanges(await Promise.all(parts.map((p) => scanPart(p, load))));
  assert.deepEqual([inParts.records, inParts.blocks, inParts.from, inParts.databases], [ours.records, ours.blocks, ours.from, ours.databases], 'read in parts, the WAL says the same');
  const { stdout } = await run('/usr/lib/postgresql/15/bin/pg_waldump', ['--timeline', String(tli), '--path', walDir, '--start', start, '--end', end], { maxBuffer: 256 * 1024 * 1024 });
  const forks: Record<string, number> = { fsm: 1, vm: 2, init: 3 };
  const theirs = new Set([...stdout.matchAll(/blkref #\d+: rel (\d+)\/(\d+)\/(\d+)(?: fork (\w+))? blk (\d+)/g)].map((m) => `${m[1]}/${m[2]}/${m[3]}/${forks[m[4] ?? ''] ?? 0} ${m[5]}`));
  const found = new Set([...ours.blocks].flatMap(([key, blocks]) => [...blocks].map((b) => `${key} ${b}`)));
  assert.ok(theirs.size > 100, `pg_waldump lists ${theirs.size} blocks`);
  assert.deepEqual([...found].filter((b) => !theirs.has(b)), [], 'no block pg_waldump does not list');
  assert.deepEqual([...theirs].filter((b) => !found.has(b)), [], 'every block pg_waldump lists');
  const truncated = [...stdout.matchAll(/desc: TRUNCATE base\/(\d+)\/(\d+) to (\d+) blocks flags \d*[13579]\b/g)];
  assert.ok(truncated.length > 0, 'VACUUM truncated shrink');
  for (const m of truncated) assert.ok((ours.from.get(`1663/${m[1]}/${m[2]}/0`) ?? Infinity) <= Number(m[3]), `truncation of ${m[2]} to ${m[3]} blocks noted`);
  const created = [...stdout.matchAll(/desc: CREATE base\/(\d+)\/(\d+)(?:_(\w+))?$/gm)];
  assert.ok(created.length > 0, 'TRUNCATE created a new file');
  for (const m of created) assert.equal(ours.from.get(`1663/${m[1]}/${m[2]}/${forks[m[3] ?? ''] ?? 0}`), 0, `creation of ${m[2]} noted`);
});

test('the archiver\'s segment summaries say what reading the segments says; the scan uses them only for the content archived', async () => {
  const lsn = async (): Promise<string> => String((await sql('SELECT pg_current_wal_insert_lsn()::text AS l'))[0]?.['l']);
  const start = await lsn();
  await change(41);
  await sql('SELECT pg_switch_wal()');
  await sql("INSERT INTO big SELECT g, repeat('y', 900) FROM generate_series(40001, 46000) g");
  await sql('SELECT pg_switch_wal()');
  await change(42);
  const end = await lsn();
  await sql('SELECT pg_switch_wal()');
  const tli = Number((await sql('SELECT timeline_id AS t FROM pg_control_checkpoint()'))[0]?.['t']);
  const member = path.join(c.home, c.name, 'members', `${c.name}-0`);
  const walDir = path.join(member, 'data', 'pg_wal');
  const dir = summaryDir(path.join(member, 'spool'));
  const load = async (segNo: number, into: Buffer): Promise<boolean> => {
    (await fs.readFile(path.join(walDir, walFileName(tli, BigInt(segNo))))).copy(into);
    return true;
  };
  const SEG = 16 * 1024 * 1024;
  const [first, last] = [Math.floor(Number(parseLsn(start)) / SEG), Math.floor((Number(parseLsn(end)) - 1) / SEG)];
  assert.ok(last - first >= 2, 'the WAL spans three segments or more');
  for (let seg = first; seg <= last; seg++) {
    const name = walFileName(tli, BigInt(seg));
    const summary = await waitFor(`the summary of ${name}`, () => readSummary(dir, name), { timeoutMs: 30_000, intervalMs: 100 });
    const read = await scanPart({ start: seg * SEG, end: (seg + 1) * SEG, atBoundary: true }, load);
    assert.deepEqual([summary.changes.records, summary.changes.blocks, summary.changes.from, summary.changes.databases], [read.records, read.blocks, read.from, read.databases], `the summary of ${name}`);
  }
  const repo = await openRepo({ ...repoSpecDefaults(), name: 'local', path: repoDir('local') });
  // The summary is written while the segment is pushed: wait until the repository holds the last one.
  await waitFor('the last segment archived', async () => (await findStored(repo, walFileName(tli, BigInt(last)))).length > 0, { timeoutMs: 30_000, intervalMs: 100 });
  const ours = await scanWal(Number(parseLsn(start)), Number(parseLsn(end)), load);
  const missing = (found: WalChanges): string[] => [...ours.blocks].flatMap(([key, blocks]) => [...blocks].filter((b) => found.blocks.get(key)?.has(b) !== true).map((b) => `${key} ${b}`));
  const between = (): Promise<ScanResult> => walChangesBetween(repo, path.join(member, 'data'), { tli, lsn: parseLsn(start) }, { tli, lsn: parseLsn(end) }, { summaryDir: dir });
  const used = await between();
  assert.equal(used.summarized, last - first + 1, 'every segment known from its summary');
  assert.deepEqual(missing(used.changes), [], 'no changed block missing');
  // A summary of other content (say, of a segment recycled while it was read) is not used.
  const name = walFileName(tli, BigInt(first + 1));
  const file = path.join(dir, `${name}.summary.json`);
  const doctored = JSON.parse(await fs.readFile(file, 'utf8')) as { hash: string; blocks: unknown[] };
  await fs.writeFile(file, JSON.stringify({ ...doctored, hash: '0000000000000000', blocks: [] }));
  const guarded = await between();
  assert.equal(guarded.summarized, last - first, `the summary of ${name} with another hash is not used`);
  assert.deepEqual(missing(guarded.changes), [], 'no changed block missing');
});

test('an encrypted posix repository restores, and refuses a wrong passphrase clearly', async () => {
  const want = await snapshot();
  const b = await backup('secret', 'full');
  assert.equal(await restoredSnapshot('secret', b.label), want);
  const stored = await fs.readFile(path.join(repoDir('secret'), 'backup', b.label, 'backup.manifest'));
  assert.ok(stored.length > 0);
  const wrong = path.join(tmp, 'wrong-passphrase');
  await fs.writeFile(wrong, 'not the passphrase\n', { mode: 0o600 });
  const spec = { name: 'secret', path: repoDir('secret'), encryption: { passphraseFile: wrong } } as unknown as BackupRepoSpec;
  await assert.rejects(openRepo({ ...repoSpecDefaults(), ...spec }), (e: unknown) => e instanceof PgpilotError && e.code === 'Crypto' && /wrong passphrase/.test(e.message));
});

test('S3 repositories, encrypted and plain: full and incr restore to the contents at backup time', async () => {
  await change(20);
  const fullWant = await snapshot();
  const full = await backup('s3enc', 'full');
  await change(21);
  const incrWant = await snapshot();
  const incr = await backup('s3enc', 'incr');
  assert.equal(incr.reference, full.label);
  assert.equal(await restoredSnapshot('s3enc', incr.label), incrWant);
  const plain = await backup('s3plain', 'full');
  assert.equal(await restoredSnapshot('s3plain', plain.label), incrWant);
  assert.notEqual(fullWant, incrWant);
});

test('verify passes on an intact repository and catches one flipped byte in any stored file', async () => {
  assert.equal((await runCli(['verify', c.name, '--repo', 'local'], c.env, 300_000)).code, 0);
  const root = repoDir('local');
  const files = (await fs.readdir(root, { recursive: true, withFileTypes: true })).filter((d) => d.isFile()).map((d) => path.join(d.parentPath, d.name));
  const pick = (re: RegExp): string => {
    const f = files.find((x) => re.test(x));
    assert.ok(f !== undefined, `a stored file matching ${re}`);
    return f;
  };
  const targets = [pick(/\/bundle\//), pick(/\/data\/.*\.zst$/), pick(/backup\.manifest$/), pick(/\/wal\/[0-9A-F]{16}\//)];
  for (const file of targets) {
    const original = await fs.readFile(file);
    const flipped = Buffer.from(original);
    const at = Math.floor(flipped.length / 2);
    flipped[at] = (flipped[at] ?? 0) ^ 0x01;
    await fs.writeFile(file, flipped);
    try {
      const r = await runCli(['verify', c.name, '--repo', 'local'], c.env, 300_000);
      assert.equal(r.code, 101, `verify exits 101 after flipping a byte of ${file}\n${r.stdout}${r.stderr}`);
      assert.match(r.stdout, /DAMAGED/);
    } finally {
      await fs.writeFile(file, original);
    }
  }
});

test('retention by count keeps the newest fulls (their diffs and incrs go with the old one), and by age', async () => {
  // local keeps 2 fulls: a third full expires the first and the diff and incr that depend on it.
  const before = await backups('local');
  const oldest = before.find((b) => b.type === 'full' && b.status === 'complete');
  await backup('local', 'full');
  await backup('local', 'full');
  const after = await backups('local');
  assert.equal(after.filter((b) => b.type === 'full').length, 2);
  assert.ok(!after.some((b) => b.label === oldest?.label || b.reference === oldest?.label), 'the oldest full and its chain expired');
  // Age: fulls made to look 10 and 9 days old, and one of now: a 7-day window keeps the 9-day one (it covers the
  // window's start) and expires the 10-day one.
  const spec = repoSpec('secret');
  const repo = await openRepo(spec);
  const age = async (label: string, days: number): Promise<void> => {
    const m = await readManifest(repo.storage, label);
    assert.ok(m !== undefined);
    const when = new Date(Date.now() - days * 86400_000).toISOString();
    await writeManifest(repo.storage, { ...m, startTime: when, stopTime: when });
  };
  const first = (await backups('secret'))[0];
  assert.ok(first !== undefined);
  await age(first.label, 10);
  await age((await backup('secret', 'full')).label, 9);
  await backup('secret', 'full');
  const { expireRepo } = await import('../../src/backup/expire.js');
  const { silentLogger } = await import('../../src/base/log.js');
  const r = await expireRepo(repo, { ...spec, retention: { full: 7, fullType: 'days', diff: 0 } }, new Date(), silentLogger);
  assert.deepEqual(r.expired.map((e) => e.label), [first.label], 'only the full older than the window\'s cover expires');
  assert.equal((await backups('secret')).length, 2);
});

function repoSpecDefaults(): BackupRepoSpec {
  return {
    name: 'x', path: '', s3: { bucket: '', endpoint: '', region: 'us-east-1', prefix: '', credentialsFile: '', forcePathStyle: true },
    retention: { full: 2, fullType: 'count', diff: 0 }, schedules: { full: '', diff: '', incr: '' }, compress: { type: 'zstd', level: 0 },
    encryption: { passphraseFile: '' },
  };
}

function repoSpec(name: 'secret'): BackupRepoSpec {
  return { ...repoSpecDefaults(), name, path: repoDir(name), compress: { type: 'gzip', level: 0 }, encryption: { passphraseFile: path.join(tmp, 'passphrase') } };
}
