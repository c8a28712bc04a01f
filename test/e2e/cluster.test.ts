// e2e: a three-member cluster from `pgpilot up` on real PostgreSQL 15 and etcd, through its whole life to `down`.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { waitFor } from '../../src/base/wait.js';
import type { ClusterStatus } from '../../src/model/status.js';
import { portInUse } from '../../src/runner/ports.js';
import { processAlive } from '../../src/runner/state.js';
import { cliOk, runCli } from '../support/cli.js';
import { query, testCluster, type TestCluster } from '../support/local-cluster.js';

let c: TestCluster;
let superuserPassword = '';

before(async () => {
  c = await testCluster('e2eha');
  await cliOk(['up', '-f', await c.manifest(3), '--detach'], c.env);
  superuserPassword = (await fs.readFile(path.join(c.home, c.name, 'secrets', 'superuser.password'), 'utf8')).trim();
});
after(async () => c.destroy());

const superuser = (port: number): { host: string; port: number; user: string; password: string; database: string } =>
  ({ host: '127.0.0.1', port, user: 'postgres', password: superuserPassword, database: 'postgres' });
const replicas = (s: ClusterStatus): ClusterStatus['members'] => s.members.filter((m) => m.role === 'replica');

test('status shows one primary and two replicas streaming on the same timeline', async () => {
  const s = await c.status();
  assert.equal(s.name, c.name);
  assert.equal(s.members.filter((m) => m.role === 'primary').length, 1);
  assert.equal(replicas(s).length, 2);
  const timelines = new Set(s.members.map((m) => m.timeline));
  assert.equal(timelines.size, 1);
  for (const m of replicas(s)) assert.ok(m.streaming, `${m.name} streams`);
  for (const m of s.members) {
    assert.equal(m.state, 'running');
    assert.ok(processAlive(m.agentPid ?? undefined) && processAlive(m.postgresPid ?? undefined), `${m.name} has live processes`);
  }
  assert.match(s.dcs.endpoints[0] ?? '', /^http:\/\/127\.0\.0\.1:\d+$/);
});

test('a row written through the connection URI is read back on both replicas', async () => {
  const conn = JSON.parse(await cliOk(['connection', c.name, '--json'], c.env)) as { uri: string; user: string; dbname: string; port: number };
  assert.equal(conn.user, 'app');
  assert.equal(conn.dbname, 'app');
  await query(conn.uri, 'CREATE TABLE IF NOT EXISTS probe (id int PRIMARY KEY, note text)');
  await query(conn.uri, "INSERT INTO probe VALUES (1, 'written on the primary')");
  for (const r of replicas(await c.status())) {
    const rows = await waitFor(`row on ${r.name}`, async () => {
      const got = await query<{ note: string }>({ ...superuser(r.port), database: 'app' }, 'SELECT note FROM probe WHERE id = 1');
      return got.length === 1 ? got : undefined;
    }, { timeoutMs: 30_000 });
    assert.equal(rows[0]?.note, 'written on the primary');
  }
});

test('exactly one member answers 200 on /primary and the others 200 on /replica, for GET, HEAD and OPTIONS', async () => {
  const s = await c.status();
  for (const method of ['GET', 'HEAD', 'OPTIONS']) {
    const codes = await Promise.all(s.members.map(async (m) => {
      const at = (p: string): Promise<number> => fetch(`http://127.0.0.1:${m.apiPort}${p}`, { method }).then((r) => r.status);
      return { role: m.role, primary: await at('/primary'), replica: await at('/replica') };
    }));
    assert.deepEqual(codes.filter((x) => x.primary === 200).map((x) => x.role), ['primary'], method);
    assert.deepEqual(codes.filter((x) => x.replica === 200).map((x) => x.role), ['replica', 'replica'], method);
  }
});

test('patronictl lists the three members with their roles', async () => {
  const s = await c.status();
  const cfg = path.join(c.home, 'patronictl.yaml');
  await fs.writeFile(cfg, `scope: ${c.name}\nnamespace: /service\netcd3:\n  hosts: ${(s.dcs.endpoints[0] ?? '').replace('http://', '')}\n`);
  const { stdout } = await promisify(execFile)('patronictl', ['-c', cfg, 'list', '-f', 'json']);
  const rows = JSON.parse(stdout) as Array<{ Member: string; Role: string; State: string }>;
  assert.deepEqual(rows.map((r) => r.Member).sort(), s.members.map((m) => m.name).sort());
  const leader = s.members.find((m) => m.role === 'primary')?.name;
  for (const r of rows) assert.equal(r.Role, r.Member === leader ? 'Leader' : 'Replica');
});

test('`up` on a running cluster changes nothing', async () => {
  const before = await c.status();
  const out = await cliOk(['up', '-f', await c.manifest(3), '--detach'], c.env);
  assert.match(out, /already running: nothing changed/);
  const now = await c.status();
  assert.deepEqual(now.members.map((m) => [m.name, m.agentPid, m.postgresPid]), before.members.map((m) => [m.name, m.agentPid, m.postgresPid]));
});

test("a replica's postgres killed with SIGKILL is restarted and streams again", async () => {
  const victim = replicas(await c.status())[0];
  assert.ok(victim?.postgresPid);
  process.kill(victim.postgresPid, 'SIGKILL');
  const back = await waitFor('the killed replica to stream again', async () => {
    const m = (await c.status()).members.find((x) => x.name === victim.name);
    return m !== undefined && m.postgresPid !== victim.postgresPid && m.state === 'running' && m.streaming ? m : undefined;
  }, { timeoutMs: 60_000, intervalMs: 500 });
  assert.ok(processAlive(back.postgresPid ?? undefined));
});

test('apply adds a streaming replica (3 -> 4) and removes one with its slot (4 -> 3)', async () => {
  const primary = (await c.status()).members.find((m) => m.role === 'primary');
  assert.ok(primary);
  const slots = async (): Promise<string[]> =>
    (await query<{ slot_name: string }>(superuser(primary.port), 'SELECT slot_name FROM pg_replication_slots ORDER BY 1')).map((r) => r.slot_name);
  await cliOk(['apply', '-f', await c.manifest(4)], c.env);
  const four = await c.status();
  assert.equal(four.members.length, 4);
  const added = four.members.find((m) => m.name === `${c.name}-3`);
  assert.ok(added?.streaming, 'the new member streams');
  await waitFor('a slot for the new member', async () => (await slots()).includes(`${c.name}_3`), { timeoutMs: 30_000 });

  await cliOk(['apply', '-f', await c.manifest(3)], c.env);
  assert.deepEqual((await c.status()).members.map((m) => m.name).sort(), [0, 1, 2].map((i) => `${c.name}-${i}`));
  await waitFor('the removed member slot to be dropped', async () => !(await slots()).includes(`${c.name}_3`), { timeoutMs: 30_000 });
  assert.equal((await slots()).length, 2);
});

test('apply changes a parameter on every member through the DCS', async () => {
  await cliOk(['apply', '-f', await c.manifest(3, '  # work_mem change\n')], c.env);
  const file = await c.manifest(3);
  await fs.writeFile(file, (await fs.readFile(file, 'utf8')).replace('max_connections: 50', 'max_connections: 50, work_mem: 7MB'));
  await cliOk(['apply', '-f', file], c.env);
  for (const m of (await c.status()).members) {
    await waitFor(`work_mem on ${m.name}`, async () => {
      const rows = await query<{ work_mem: string }>(superuser(m.port), 'SHOW work_mem');
      return rows[0]?.work_mem === '7MB';
    }, { timeoutMs: 30_000 });
  }
});

test('down leaves no process of the cluster and no bound port behind', async () => {
  const s = await c.status();
  const statePath = path.join(c.home, c.name, 'state.json');
  const state = JSON.parse(await fs.readFile(statePath, 'utf8')) as { supervisorPid: number; etcd: { clientPort: number; peerPort: number; pid: number } };
  const r = await runCli(['down', c.name], c.env);
  assert.equal(r.code, 0, r.stderr);
  const pids = [state.supervisorPid, state.etcd.pid, ...s.members.flatMap((m) => [m.agentPid, m.postgresPid])];
  for (const pid of pids) assert.equal(processAlive(pid ?? undefined), false, `pid ${pid} is gone`);
  const ports = [state.etcd.clientPort, state.etcd.peerPort, ...s.members.flatMap((m) => [m.port, m.apiPort])];
  for (const port of ports) assert.equal(await portInUse(port), false, `port ${port} is free`);
});
