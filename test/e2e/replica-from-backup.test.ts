// e2e: a new replica restores the newest backup and the archived WAL, then streams; without a backup it uses pg_basebackup.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { waitFor } from '../../src/base/wait.js';
import type { BackupSummary } from '../../src/cli/backup-summary.js';
import { cliOk } from '../support/cli.js';
import { query, testCluster, type TestCluster } from '../support/local-cluster.js';

let c: TestCluster;
let tmp: string;
let extra = '';

before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'pgpilot-replica-'));
  await fs.chmod(tmp, 0o755);
  extra = [`  backup: {repos: [{name: local, path: ${JSON.stringify(path.join(tmp, 'repo'))}}]}`, '  ha: {replicaMethods: [backup, basebackup]}'].join('\n');
  c = await testCluster('e2erepl', 3);
  await cliOk(['up', '-f', await c.manifest(1, extra), '--detach'], c.env);
  await sql('CREATE TABLE t (id int PRIMARY KEY)');
});
after(async () => {
  await c?.destroy();
  if (tmp !== undefined) await fs.rm(tmp, { recursive: true, force: true });
});

async function sql<T extends Record<string, unknown>>(text: string, port = c.pgPort): Promise<T[]> {
  return query<T>(await c.superuser(port), text);
}

/** Inserts rows `from`..`to` on the primary and waits until the segment holding them is archived. */
async function write(from: number, to: number): Promise<void> {
  await sql(`INSERT INTO t SELECT generate_series(${from}, ${to})`);
  const wal = (await sql<{ w: string }>('SELECT pg_walfile_name(pg_switch_wal()) AS w'))[0]?.w ?? '';
  await waitFor(`${wal} to be archived`, async () => ((await sql<{ a: string | null }>('SELECT last_archived_wal AS a FROM pg_stat_archiver'))[0]?.a ?? '') >= wal, { timeoutMs: 30_000 });
}

/** The messages of a member's agent log. */
async function agentLog(member: string): Promise<Array<{ msg: string } & Record<string, unknown>>> {
  const text = await fs.readFile(path.join(c.home, c.name, 'members', member, 'agent.log'), 'utf8');
  return text.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { msg: string });
}

/** Adds a member with `apply`, checks that it streams and holds every row, and returns its agent log. */
async function addReplica(instances: number, rows: number): Promise<Awaited<ReturnType<typeof agentLog>>> {
  await cliOk(['apply', '-f', await c.manifest(instances, extra)], c.env);
  const member = `${c.name}-${instances - 1}`;
  const added = await waitFor(`${member} to stream`, async () => {
    const m = (await c.status()).members.find((x) => x.name === member);
    return m?.role === 'replica' && m.streaming ? m : undefined;
  }, { timeoutMs: 60_000, intervalMs: 500 });
  await waitFor(`all ${rows} rows on ${member}`, async () => (await sql<{ n: number }>('SELECT count(*)::int AS n FROM t', added.port))[0]?.n === rows, { timeoutMs: 30_000 });
  return agentLog(member);
}

test('with no backup in the repository, a new replica falls back to pg_basebackup and streams', async () => {
  // The archive holds WAL (the repository exists) but no backup.
  await write(1, 100);
  const log = await addReplica(2, 100);
  assert.ok(log.some((l) => l.msg === 'no complete backup of this cluster in the repository'), 'the method looked for a backup');
  assert.ok(log.some((l) => l.msg === 'no usable backup for this replica: falling back to pg_basebackup'), 'the fallback is logged');
  assert.ok(log.some((l) => l.msg === 'cloning the data directory'), 'pg_basebackup ran');
  assert.ok(!log.some((l) => l.msg === 'replica created from backup'));
});

test('a new replica restores the newest backup and the archived WAL, then streams from the primary', async () => {
  const summary = JSON.parse(await cliOk(['backup', c.name, '--type', 'full', '--json'], c.env, 120_000)) as BackupSummary;
  await write(101, 250);
  const log = await addReplica(3, 250);
  const built = log.find((l) => l.msg === 'replica created from backup');
  assert.ok(built !== undefined, 'the replica was built from the backup');
  assert.equal(built['label'], summary.label);
  assert.ok(Number(built['walSegments']) >= 2, `the archived WAL past the backup was copied: ${JSON.stringify(built)}`);
  assert.ok(!log.some((l) => l.msg === 'cloning the data directory'), 'pg_basebackup did not run');
  assert.ok(!log.some((l) => l.level === 'warn' && String(l.msg).includes('replica')), 'no method failed');
});
