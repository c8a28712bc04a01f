// e2e: failover, fencing, failsafe, pause, switchover and rejoin on a real three-member cluster (restart: never, so a
// killed node stays dead until the test brings its agent back).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { waitFor } from '../../src/base/wait.js';
import type { ClusterStatus } from '../../src/model/status.js';
import { cliOk } from '../support/cli.js';
import { query, testCluster, type TestCluster } from '../support/local-cluster.js';
import { startSplitBrainProbe, startWriter, type Target } from '../support/writer.js';

let c: TestCluster;
const members = (): string[] => [0, 1, 2].map((i) => `${c.name}-${i}`);

before(async () => {
  c = await testCluster('e2efo', 3);
  await cliOk(['up', '-f', await c.manifest(3, '  local: {restart: never}'), '--detach'], c.env);
  const primary = primaryOf(await c.status());
  await query(await c.superuser(primary.port), 'CREATE TABLE acked (id int PRIMARY KEY); CREATE TABLE probe (at timestamptz)');
});
after(async () => c.destroy());

function primaryOf(s: ClusterStatus): ClusterStatus['members'][number] {
  const p = s.members.find((m) => m.role === 'primary');
  assert.ok(p, 'a primary');
  return p;
}

/** Superuser targets of every member, from the ports the manifest gave them. */
async function allTargets(): Promise<Target[]> {
  return Promise.all([0, 1, 2].map((i) => c.superuser(c.pgPort + i)));
}

async function waitHealthy(what: string): Promise<ClusterStatus> {
  return withDiagnostics(() => waitFor(what, async () => {
    const s = await c.status();
    const p = s.members.find((m) => m.role === 'primary');
    const ok = p !== undefined && s.members.length === 3 && s.members.every((m) => m.state === 'running' && m.timeline === p.timeline && (m.role === 'primary' || m.streaming));
    return ok ? s : undefined;
  }, { timeoutMs: 90_000, intervalMs: 500 }));
}

/** A failed wait shows the cluster's status and its agents' latest decisions. */
async function withDiagnostics<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (e) {
    throw new Error(`${e instanceof Error ? e.message : String(e)}\n${await c.diagnostics()}`);
  }
}

async function newPrimary(old: string): Promise<ClusterStatus['members'][number]> {
  return withDiagnostics(() => waitFor(`a primary other than ${old}`, async () => {
    const p = (await c.status()).members.find((m) => m.role === 'primary' && m.state === 'running');
    return p !== undefined && p.name !== old ? p : undefined;
  }, { timeoutMs: 60_000, intervalMs: 200 }));
}

test('node loss: a replica takes over on a new timeline, never two writable members, the old primary rejoins by rewind', async () => {
  const before = primaryOf(await c.status());
  const targets = await allTargets();
  const probe = startSplitBrainProbe(() => targets, 'probe');
  const writer = startWriter(() => targets, 'acked');
  await waitFor('the writer to get going', async () => (await query<{ n: string }>(await c.superuser(before.port), 'SELECT count(*) AS n FROM acked'))[0]?.n !== '0', { timeoutMs: 10_000 });
  await c.killNode(before.name);
  await newPrimary(before.name);
  // The leader key moves before the promotion ends: wait for the new primary to report its new timeline.
  const after = await withDiagnostics(() => waitFor('the new primary on a new timeline', async () => {
    const p = (await c.status()).members.find((m) => m.role === 'primary' && m.name !== before.name);
    return p !== undefined && (p.timeline ?? 0) > (before.timeline ?? 0) ? p : undefined;
  }, { timeoutMs: 30_000, intervalMs: 200 }));
  c.startAgent(before.name);
  const healed = await waitHealthy('the old primary to rejoin as a replica');
  assert.equal(healed.members.find((m) => m.name === before.name)?.role, 'replica');
  const written = await writer.stop();
  const probed = await probe.stop();
  assert.ok(probed.rounds > 5, 'the probe ran throughout');
  assert.deepEqual(probed.doubleWriters, [], 'never two members accepting writes');
  assert.ok(written.acknowledged.length > 0);
  const log = await fs.readFile(path.join(c.home, c.name, 'members', before.name, 'agent.log'), 'utf8');
  assert.match(log, /rewinding to rejoin leader/);
  const history = JSON.parse(await cliOk(['history', c.name, '--json'], c.env)) as Array<{ timeline: number; newLeader: string }>;
  assert.equal(history.at(-1)?.newLeader, after.name);
});

test('pause prevents failover; resume lets it happen', async () => {
  const before = primaryOf(await waitHealthy('a healthy cluster'));
  await cliOk(['pause', c.name], c.env);
  await c.killNode(before.name);
  // Three lease lifetimes without a promotion: a bounded check that nothing happens while paused.
  const deadline = Date.now() + 3 * 3000 + 2000;
  while (Date.now() < deadline) {
    const s = await c.status();
    assert.ok(!s.members.some((m) => m.role === 'primary' && m.name !== before.name && m.state === 'running'), 'no promotion while paused');
    for (const t of (await allTargets()).filter((t) => t.port !== before.port)) {
      const ro = await query<{ r: boolean }>(t, 'SELECT pg_is_in_recovery() AS r');
      assert.equal(ro[0]?.r, true, `${t.port} stays a replica while paused`);
    }
  }
  await cliOk(['resume', c.name], c.env);
  await newPrimary(before.name);
  c.startAgent(before.name);
  await waitHealthy('the cluster to heal after resume');
});

test('failsafe: with etcd frozen the primary keeps taking writes and no failover happens', async () => {
  const before = primaryOf(await waitHealthy('a healthy cluster'));
  const state = JSON.parse(await fs.readFile(path.join(c.home, c.name, 'state.json'), 'utf8')) as { etcd: { pid: number } };
  const target = await c.superuser(before.port);
  process.kill(state.etcd.pid, 'SIGSTOP');
  try {
    const deadline = Date.now() + 3 * 3000 + 3000;
    let writes = 0;
    while (Date.now() < deadline) {
      await query(target, 'INSERT INTO probe (at) VALUES (now())');
      writes += 1;
    }
    assert.ok(writes > 10, 'writes went on throughout the outage');
  } finally {
    process.kill(state.etcd.pid, 'SIGCONT');
  }
  const s = await waitHealthy('the cluster after etcd returns');
  assert.equal((primaryOf(s)).name, before.name, 'the same primary, no failover');
  const log = await fs.readFile(path.join(c.home, c.name, 'members', before.name, 'agent.log'), 'utf8');
  assert.match(log, /failsafe: all 2 other members answered/);
});

test('pgpilot switchover hands over to the named replica, and patronictl switchover works too', async () => {
  const before = primaryOf(await waitHealthy('a healthy cluster'));
  const to = members().find((m) => m !== before.name) ?? '';
  const out = await withDiagnostics(() => cliOk(['switchover', c.name, '--to', to], c.env));
  assert.match(out, new RegExp(`Successfully switched over to "${to}"`));
  const s = await waitHealthy('the cluster after the switchover');
  assert.equal((primaryOf(s)).name, to);
  const history = JSON.parse(await cliOk(['history', c.name, '--json'], c.env)) as Array<{ reason: string; newLeader: string }>;
  assert.deepEqual([history.at(-1)?.reason, history.at(-1)?.newLeader], ['switchover', to]);

  const token = (await fs.readFile(path.join(c.home, c.name, 'secrets', 'api.token'), 'utf8')).trim();
  const cfg = path.join(c.home, 'patronictl.yaml');
  await fs.writeFile(cfg, [
    `scope: ${c.name}`, 'namespace: /service', `etcd3: {hosts: '${(s.dcs.endpoints[0] ?? '').replace('http://', '')}'}`,
    `restapi: {authentication: {username: pgpilot, password: '${token}'}}`, '',
  ].join('\n'), { mode: 0o600 });
  const back = before.name;
  await promisify(execFile)('patronictl', ['-c', cfg, 'switchover', '--leader', to, '--candidate', back, '--force', c.name]);
  assert.equal((primaryOf(await waitHealthy('the cluster after patronictl switchover'))).name, back);
});

test('a former primary whose WAL is gone cannot be rewound and is recloned instead', async () => {
  const before = primaryOf(await waitHealthy('a healthy cluster'));
  await c.killNode(before.name);
  await newPrimary(before.name);
  const walDir = path.join(c.home, c.name, 'members', before.name, 'data', 'pg_wal');
  for (const f of await fs.readdir(walDir)) if (/^[0-9A-F]{24}$/.test(f)) await fs.rm(path.join(walDir, f));
  c.startAgent(before.name);
  const s = await waitHealthy('the recloned member to stream');
  assert.equal(s.members.find((m) => m.name === before.name)?.role, 'replica');
  const log = await fs.readFile(path.join(c.home, c.name, 'members', before.name, 'agent.log'), 'utf8');
  assert.match(log, /pg_rewind failed: removing the data directory to clone again/);
});
