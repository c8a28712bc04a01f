// e2e: logical dumps of a real PostgreSQL 15 into plain and encrypted repositories: dump, list, restore, expire, damage.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { PgpilotError } from '../../src/base/errors.js';
import { silentLogger } from '../../src/base/log.js';
import { decodeBuffer, encodeBuffer } from '../../src/backup/codec/codec.js';
import { type CompleteDump, dumpManifestPath, expireDumps, listDumps } from '../../src/backup/logical-catalog.js';
import { type DumpConn, takeDump } from '../../src/backup/logical-dump.js';
import { readDumpGlobals, restoreDump } from '../../src/backup/logical-restore.js';
import { codecFor, openRepo, type Repo } from '../../src/backup/repo.js';
import type { BackupRepoSpec } from '../../src/config/types.js';
import { renderPgpass } from '../../src/pg/pgpass.js';
import type { Target } from '../support/writer.js';
import { cliOk } from '../support/cli.js';
import { query, testCluster, type TestCluster } from '../support/local-cluster.js';

let c: TestCluster;
let su: Target;
let conn: DumpConn;
let systemId = '';
let plain: Repo;
/** Dumps get labels one second apart, like dumps taken over time. */
let clock = Date.parse('2026-11-22T08:15:00Z');
const now = (): Date => new Date((clock += 1000));

interface Item {
  id: number;
  note: string;
}

function repoSpec(name: string, dir: string, passphraseFile = ''): BackupRepoSpec {
  return {
    name,
    path: dir,
    s3: { bucket: '', endpoint: '', region: 'us-east-1', prefix: '', credentialsFile: '', forcePathStyle: true },
    retention: { full: 2, fullType: 'count', diff: 0 },
    schedules: { full: '', diff: '', incr: '' },
    compress: { type: 'zstd', level: 0 },
    encryption: { passphraseFile },
  };
}

const items = async (database: string): Promise<Item[]> =>
  query<Item>({ ...su, database }, 'SELECT id, note FROM items ORDER BY id');
const databaseExists = async (name: string): Promise<boolean> =>
  (await query(su, 'SELECT 1 FROM pg_database WHERE datname = $1', [name])).length === 1;
const isCode = (code: PgpilotError['code']) => (e: unknown): boolean => e instanceof PgpilotError && e.code === code;
const dump = (repo: Repo, databases: string[]): Promise<CompleteDump> => takeDump({ repo, conn, databases, log: silentLogger, now });

before(async () => {
  c = await testCluster('e2elogical', 1);
  const repoDir = path.join(c.home, 'repo');
  await cliOk(['up', '-f', await c.manifest(1, `  backup: {repos: [{name: local, path: ${repoDir}}]}`), '--detach'], c.env);
  su = await c.superuser(c.pgPort);
  const passFile = path.join(c.home, 'dump.pgpass');
  await fs.writeFile(passFile, renderPgpass([{ host: '127.0.0.1', port: c.pgPort, database: '*', user: 'postgres', password: su.password }]), { mode: 0o600 });
  conn = { host: '127.0.0.1', port: c.pgPort, user: 'postgres', passFile };
  systemId = (await query<{ id: string }>(su, 'SELECT system_identifier::text AS id FROM pg_control_system()'))[0]?.id ?? '';
  plain = await openRepo(repoSpec('local', repoDir), { create: { systemId, pgVersion: 15 } });
  const app = { ...su, database: 'app' };
  await query(app, 'CREATE TABLE items (id int PRIMARY KEY, note text NOT NULL)');
  await query(app, 'ALTER TABLE items OWNER TO app');
  await query(app, "INSERT INTO items SELECT g, 'note-' || g FROM generate_series(1, 1000) g");
});
after(async () => c.destroy());

test('a dump restored into a new database holds the rows as they were at dump time, with their owner', async () => {
  const before = await items('app');
  const taken = await dump(plain, ['app']);
  await query({ ...su, database: 'app' }, "UPDATE items SET note = 'changed' WHERE id <= 10; DELETE FROM items WHERE id > 900");

  await restoreDump({ repo: plain, label: taken.label, database: 'app', target: 'app_restored', conn, log: silentLogger });

  assert.deepEqual(await items('app_restored'), before);
  assert.equal((await items('app')).length, 900, 'the source kept its changes');
  const owner = await query<{ tableowner: string }>({ ...su, database: 'app_restored' }, "SELECT tableowner FROM pg_tables WHERE tablename = 'items'");
  assert.equal(owner[0]?.tableowner, 'app');
});

test('a dump of every database is listed complete with its sizes, and its globals hold the roles', async () => {
  const taken = await dump(plain, []);
  assert.equal(taken.status, 'complete');
  const listed = (await listDumps(plain)).find((d) => d.label === taken.label);
  assert.ok(listed?.status === 'complete', 'listed complete');
  assert.match(listed.label, /^\d{8}-\d{6}L$/);
  const all = await query<{ datname: string }>(su, 'SELECT datname FROM pg_database WHERE NOT datistemplate ORDER BY datname');
  assert.deepEqual(listed.manifest.databases.map((d) => d.name), all.map((d) => d.datname));
  assert.ok(all.some((d) => d.datname === 'app'));
  for (const d of [listed.manifest.globals, ...listed.manifest.databases]) {
    assert.ok(d.size > 0 && d.storedSize > 0, `${d.object} has sizes`);
    assert.ok(d.object.startsWith(`dump/${taken.label}/`) && d.object.endsWith('.zst'), d.object);
    assert.equal((await plain.storage.stat(d.object))?.size, d.storedSize);
  }
  const app = listed.manifest.databases[0];
  assert.ok(app !== undefined && app.storedSize < app.size, 'the uncompressed pg_dump output is compressed by the codec');
  const objects = await plain.storage.list(`dump/${taken.label}/`);
  assert.equal(listed.storedSize, objects.reduce((n, o) => n + o.size, 0));
  assert.match(await readDumpGlobals(plain, taken.label), /CREATE ROLE app;/);
});

test('a dump without its manifest is listed incomplete and cannot be restored', async () => {
  const taken = await dump(plain, ['app']);
  await plain.storage.remove(dumpManifestPath(taken.label));
  const listed = (await listDumps(plain)).find((d) => d.label === taken.label);
  assert.equal(listed?.status, 'incomplete');
  assert.ok(listed.storedSize > 0);
  await assert.rejects(restoreDump({ repo: plain, label: taken.label, database: 'app', target: 'never', conn, log: silentLogger }), isCode('NotFound'));
  assert.ok(!(await databaseExists('never')));
});

test('a failing pg_dump is a Backup error with its messages, and the partial dump is removed', async () => {
  const binDir = path.join(c.home, 'failing-bin');
  await fs.mkdir(binDir);
  for (const tool of ['psql', 'pg_dumpall']) await fs.symlink(`/usr/lib/postgresql/15/bin/${tool}`, path.join(binDir, tool));
  await fs.writeFile(path.join(binDir, 'pg_dump'), '#!/bin/sh\necho partial output\necho "pg_dump: error: simulated failure" >&2\nexit 1\n', { mode: 0o755 });
  const beforeLabels = (await listDumps(plain)).map((d) => d.label);
  await assert.rejects(
    takeDump({ repo: plain, conn: { ...conn, binDir }, databases: ['app'], log: silentLogger, now }),
    (e: unknown) => isCode('Backup')(e) && /pg_dump of database app failed \(exit code 1\)/.test((e as Error).message) && /simulated failure/.test((e as Error).message),
  );
  assert.deepEqual((await listDumps(plain)).map((d) => d.label), beforeLabels, 'nothing of the failed dump stays');
  await assert.rejects(dump(plain, ['nosuchdb']), isCode('NotFound'));
});

test('a dump whose data was altered is refused before pg_restore commits, and the new database is dropped', async () => {
  const taken = await dump(plain, ['app']);
  const entry = taken.manifest.databases[0];
  assert.ok(entry !== undefined);
  const codec = codecFor(taken.manifest.compress.type, taken.manifest.compress.level, plain.key);
  const data = await decodeBuffer(codec, await plain.storage.readBuffer(entry.object), entry.object);
  const altered = Buffer.from(data.toString('latin1').replace('note-500', 'NOTE-500'), 'latin1');
  assert.notDeepEqual(altered, data, 'the row data is in the uncompressed custom format');
  await plain.storage.write(entry.object, await encodeBuffer(codec, altered));
  await assert.rejects(
    restoreDump({ repo: plain, label: taken.label, database: 'app', target: 'app_damaged', conn, log: silentLogger }),
    isCode('Corrupt'),
  );
  assert.ok(!(await databaseExists('app_damaged')));
});

test('expire with keep=1 leaves only the newest complete dump', async () => {
  const newest = await dump(plain, ['app']);
  const older = (await listDumps(plain)).filter((d) => d.label !== newest.label).map((d) => d.label);
  assert.ok(older.length >= 2);
  assert.deepEqual(await expireDumps(plain, 1), older);
  assert.deepEqual((await listDumps(plain)).map((d) => [d.label, d.status]), [[newest.label, 'complete']]);
  assert.deepEqual(await plain.storage.list('dump/').then((o) => o.every((x) => x.path.startsWith(`dump/${newest.label}/`))), true);
});

test('an encrypted repository round-trips a dump, and a wrong passphrase is a Crypto error', async () => {
  const dir = path.join(c.home, 'repo-enc');
  const passphraseFile = path.join(c.home, 'repo.passphrase');
  await fs.writeFile(passphraseFile, 'correct horse battery staple\n', { mode: 0o600 });
  const enc = await openRepo(repoSpec('enc', dir, passphraseFile), { create: { systemId, pgVersion: 15 } });
  const expected = await items('app');
  const taken = await dump(enc, ['app']);
  assert.equal(taken.manifest.encrypted, true);
  for (const o of await enc.storage.list(`dump/${taken.label}/`)) {
    const raw = await enc.storage.readBuffer(o.path);
    assert.ok(!raw.includes('note-1') && !raw.includes('"databases"') && !raw.includes('CREATE ROLE'), `${o.path} is not readable without the key`);
  }
  await restoreDump({ repo: enc, label: taken.label, database: 'app', target: 'app_from_enc', conn, log: silentLogger });
  assert.deepEqual(await items('app_from_enc'), expected);

  const wrong = path.join(c.home, 'wrong.passphrase');
  await fs.writeFile(wrong, 'not the passphrase\n', { mode: 0o600 });
  await assert.rejects(openRepo(repoSpec('enc', dir, wrong)), isCode('Crypto'));
});
