// e2e: clients running through the read-write pooler see no error across a switchover; the read-only pooler serves replicas.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { waitFor } from '../../src/base/wait.js';
import { freePortRange } from '../../src/runner/ports.js';
import { cliOk } from '../support/cli.js';
import { query, testCluster, type TestCluster } from '../support/local-cluster.js';

interface Conn { uri: string; user: string; password: string; dbname: string; poolerHost: string; poolerPort: number; poolerReadOnlyPort: number }

let c: TestCluster;
let conn: Conn;

before(async () => {
  c = await testCluster('e2epool', 3);
  const poolerPort = await freePortRange(2);
  await cliOk(['up', '-f', await c.manifest(3, `  pooler: {enabled: true, port: ${poolerPort}, mode: transaction}`), '--detach'], c.env);
  conn = JSON.parse(await cliOk(['connection', c.name, '--json'], c.env)) as Conn;
  assert.equal(conn.poolerPort, poolerPort);
  assert.equal(conn.poolerReadOnlyPort, poolerPort + 1);
  await query(conn.uri, 'CREATE TABLE IF NOT EXISTS t (id serial PRIMARY KEY, at timestamptz DEFAULT now())');
});
after(async () => c.destroy());

const through = (port: number): pg.ClientConfig => ({ host: conn.poolerHost, port, user: conn.user, password: conn.password, database: conn.dbname, connectionTimeoutMillis: 5000 });

test('the read-write pooler leads to the primary and the read-only pooler to a replica', async () => {
  await waitFor('both poolers to route', async () => {
    const rw = await query<{ r: boolean }>(through(conn.poolerPort), 'SELECT pg_is_in_recovery() AS r');
    const ro = await query<{ r: boolean }>(through(conn.poolerReadOnlyPort), 'SELECT pg_is_in_recovery() AS r');
    return rw[0]?.r === false && ro[0]?.r === true;
  }, { timeoutMs: 30_000, intervalMs: 500 });
});

test('a switchover with clients writing through the read-write pooler gives them zero errors', async () => {
  const before = (await c.status()).members.find((m) => m.role === 'primary');
  assert.ok(before);
  const clients = await Promise.all([1, 2, 3].map(async () => {
    const client = new pg.Client(through(conn.poolerPort));
    await client.connect();
    return client;
  }));
  let running = true;
  const errors: string[] = [];
  let inserted = 0;
  const loops = clients.map(async (client) => {
    while (running) {
      try {
        await client.query('INSERT INTO t DEFAULT VALUES');
        inserted += 1;
      } catch (e) {
        errors.push(e instanceof Error ? e.message : String(e));
      }
    }
  });
  await waitFor('clients to be writing', () => inserted > 50, { timeoutMs: 10_000, intervalMs: 50 });
  const out = await cliOk(['switchover', c.name], c.env);
  assert.match(out, /Successfully switched over/);
  const atSwitch = inserted;
  await waitFor('writes to continue on the new primary', () => inserted > atSwitch + 50, { timeoutMs: 30_000, intervalMs: 50 });
  running = false;
  await Promise.all(loops);
  await Promise.all(clients.map((cl) => cl.end()));
  assert.deepEqual(errors, [], 'no client saw an error');
  const now = (await c.status()).members.find((m) => m.role === 'primary');
  assert.notEqual(now?.name, before.name);
  const rows = await query<{ n: string }>(through(conn.poolerPort), 'SELECT count(*) AS n FROM t');
  assert.equal(Number(rows[0]?.n), inserted, 'every acknowledged insert is on the new primary');
});
