// e2e: an in-place restore of a two-member cluster to an LSN: a delta restore writes only the changed files, the
// cluster comes back healthy on a new timeline with exactly the rows before the target, the replica re-seeded.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { waitFor } from '../../src/base/wait.js';
import { cliOk, runCli } from '../support/cli.js';
import { query, testCluster, type TestCluster } from '../support/local-cluster.js';

let c: TestCluster;
let tmp: string;

before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'pgpilot-inplace-'));
  await fs.chmod(tmp, 0o755);
  c = await testCluster('e2einplace', 2);
  await cliOk(['up', '-f', await c.manifest(2, `  backup: {repos: [{name: local, path: ${JSON.stringify(path.join(tmp, 'repo'))}}]}`), '--detach'], c.env);
});
after(async () => {
  await c?.destroy();
  if (tmp !== undefined) await fs.rm(tmp, { recursive: true, force: true });
});

async function primaryPort(): Promise<number> {
  const p = (await c.status()).members.find((m) => m.role === 'primary');
  assert.ok(p !== undefined, 'a primary');
  return p.port;
}
const sql = async <T extends Record<string, unknown>>(text: string, port?: number): Promise<T[]> => query<T>(await c.superuser(port ?? (await primaryPort()), 'app'), text);

test('an in-place restore to an LSN: delta, new timeline, rows before the target, replica re-seeded', async () => {
  await sql('CREATE TABLE t (id serial PRIMARY KEY, phase text)');
  await sql("INSERT INTO t (phase) SELECT 'a' FROM generate_series(1, 100)");
  await cliOk(['backup', c.name, '--type', 'full'], c.env, 300_000);
  await sql("INSERT INTO t (phase) SELECT 'b' FROM generate_series(1, 100)");
  const lsn = (await sql<{ l: string }>('SELECT pg_current_wal_insert_lsn()::text AS l'))[0]?.l ?? '';
  await sql("INSERT INTO t (phase) SELECT 'c' FROM generate_series(1, 100)");
  // The primary holds the replica's slot: its directory is not in the backup and must not survive the delta restore.
  await waitFor('the replica slot on the primary', async () => (await sql('SELECT 1 FROM pg_replication_slots WHERE active')).length > 0, { timeoutMs: 30_000 });
  const timelineBefore = (await c.status()).members[0]?.timeline ?? 0;
  const replicaLogFile = path.join(c.home, c.name, 'members', `${c.name}-1`, 'agent.log');
  const replicaLogBefore = (await fs.readFile(replicaLogFile, 'utf8')).length;
  const refused = await runCli(['restore', c.name, '--in-place', '--lsn', lsn], c.env);
  assert.equal(refused.code, 70, 'without --yes and without a terminal it is refused');
  const future = await runCli(['restore', c.name, '--in-place', '--xid', '99999999', '--yes'], c.env);
  assert.equal(future.code, 104, future.stderr);
  assert.match(future.stderr, /transaction 99999999: it has not started yet/);
  assert.equal((await sql<{ n: string }>('SELECT count(*)::text AS n FROM t'))[0]?.n, '300', 'the cluster still serves, untouched');
  const out = await cliOk(['restore', c.name, '--in-place', '--lsn', lsn, '--yes'], c.env, 600_000).catch(async (e: unknown) => {
    const log = await fs.readFile(path.join(c.home, c.name, 'members', `${c.name}-0`, 'postgres.log'), 'utf8').catch(() => '');
    throw new Error(`${String(e)}\n--- postgres.log of member 0:\n${log.split('\n').slice(-40).join('\n')}`);
  });
  const m = /(\d+) of (\d+) files written/.exec(out);
  assert.ok(m !== null, out);
  assert.ok(Number(m[1]) < Number(m[2]) / 2, `a delta restore rewrites only what changed: ${m[0]}`);
  const reseeded = new RegExp(`member ${c.name}-1 re-seeded by a delta restore: (\\d+) of (\\d+) files written`).exec(out);
  assert.ok(reseeded !== null, `the replica was re-seeded by a delta restore, not cloned:\n${out}`);
  assert.ok(Number(reseeded[1]) < Number(reseeded[2]) / 2, `the replica's delta rewrites only what changed: ${reseeded[0]}`);
  const status = await c.status();
  assert.equal(status.members.length, 2);
  assert.ok(status.members.every((x) => x.timeline !== null && x.timeline > timelineBefore), 'a new timeline');
  const rows = await sql<{ p: string }>("SELECT string_agg(DISTINCT phase, '' ORDER BY phase) AS p FROM t");
  assert.equal(rows[0]?.p, 'ab');
  const replica = status.members.find((x) => x.role === 'replica');
  assert.ok(replica?.streaming, 'the replica streams again');
  const onReplica = await sql<{ n: string }>('SELECT count(*)::text AS n FROM t', replica?.port);
  assert.equal(onReplica[0]?.n, '200');
  const replicaLog = (await fs.readFile(replicaLogFile, 'utf8')).slice(replicaLogBefore);
  assert.ok(!replicaLog.includes('"msg":"cloning the data directory"'), 'the replica did not clone the new primary');
});

test('a second in-place restore reaches a point on the timeline the first one created', async () => {
  // The first restore's new timeline began with archiving off: its history file must still reach the archive.
  await sql("INSERT INTO t (phase) SELECT 'd' FROM generate_series(1, 100)");
  const lsn = (await sql<{ l: string }>('SELECT pg_current_wal_insert_lsn()::text AS l'))[0]?.l ?? '';
  await sql("INSERT INTO t (phase) SELECT 'e' FROM generate_series(1, 100)");
  const timelineBefore = (await c.status()).members[0]?.timeline ?? 0;
  const out = await cliOk(['restore', c.name, '--in-place', '--lsn', lsn, '--yes'], c.env, 600_000);
  assert.match(out, new RegExp(`member ${c.name}-1 re-seeded by a delta restore`));
  const status = await c.status();
  assert.ok(status.members.every((x) => x.timeline !== null && x.timeline > timelineBefore), 'another new timeline');
  const rows = await sql<{ p: string }>("SELECT string_agg(DISTINCT phase, '' ORDER BY phase) AS p FROM t");
  assert.equal(rows[0]?.p, 'abd');
});
