// e2e: synchronous replication loses no acknowledged row across repeated node-loss failovers.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../../src/base/wait.js';
import type { ClusterStatus } from '../../src/model/status.js';
import { cliOk } from '../support/cli.js';
import { query, testCluster, type TestCluster } from '../support/local-cluster.js';
import { startWriter, type Target } from '../support/writer.js';

let c: TestCluster;
const rounds = 3;

before(async () => {
  c = await testCluster('e2esync', 3);
  await cliOk(['up', '-f', await c.manifest(3, '  local: {restart: never}\n  synchronous: {mode: on}'), '--detach'], c.env);
  const p = (await c.status()).members.find((m) => m.role === 'primary');
  assert.ok(p);
  await query(await c.superuser(p.port), 'CREATE TABLE acked (id int PRIMARY KEY)');
});
after(async () => c.destroy());

async function healthy(): Promise<ClusterStatus> {
  return waitFor('a healthy cluster with a synchronous standby', async () => {
    const s = await c.status();
    const p = s.members.find((m) => m.role === 'primary');
    if (p === undefined || s.members.length !== 3 || !s.members.every((m) => m.state === 'running' && (m.role === 'primary' || m.streaming))) return undefined;
    // The leader records its synchronous standby in the sync key once PostgreSQL reports it synchronous.
    const cluster = (await (await fetch(`http://127.0.0.1:${p.apiPort}/cluster`)).json()) as { members: Array<{ role: string }> };
    return cluster.members.filter((m) => m.role === 'sync_standby').length === 1 ? s : undefined;
  }, { timeoutMs: 90_000, intervalMs: 500 });
}

test(`${rounds} node-loss failovers in synchronous mode lose no acknowledged row`, async () => {
  const targets: Target[] = await Promise.all([0, 1, 2].map((i) => c.superuser(c.pgPort + i)));
  const writer = startWriter(() => targets, 'acked');
  for (let i = 0; i < rounds; i++) {
    const s = await healthy();
    const old = s.members.find((m) => m.role === 'primary');
    assert.ok(old);
    await c.killNode(old.name);
    await waitFor('a new primary', async () => {
      const p = (await c.status()).members.find((m) => m.role === 'primary' && m.state === 'running');
      return p !== undefined && p.name !== old.name;
    }, { timeoutMs: 60_000, intervalMs: 200 });
    c.startAgent(old.name);
  }
  const final = await healthy();
  const { acknowledged } = await writer.stop();
  assert.ok(acknowledged.length > 100, `the writer got ${acknowledged.length} rows acknowledged`);
  const primary = final.members.find((m) => m.role === 'primary');
  assert.ok(primary);
  const rows = await query<{ id: number }>(await c.superuser(primary.port), 'SELECT id FROM acked');
  const present = new Set(rows.map((r) => r.id));
  const lost = acknowledged.filter((id) => !present.has(id));
  assert.deepEqual(lost, [], 'every acknowledged row survived');
});
