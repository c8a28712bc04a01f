// The etcd KvStore driver against a real etcd 3.4 on free ports: the shared contract, expiry, failover, timeouts.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { PgpilotError } from '../../src/base/errors.js';
import { silentLogger, type Logger } from '../../src/base/log.js';
import { waitFor } from '../../src/base/wait.js';
import { etcdKv } from '../../src/dcs/etcd/etcd-kv.js';
import type { KvStore } from '../../src/dcs/kv.js';
import { kvContractTests } from '../../src/dcs/kv-contract.js';
import { startEtcd, type EtcdServer, type EtcdServerOptions } from '../../src/runner/etcd-server.js';
import { freePort } from '../../src/runner/ports.js';

let dir = '';
let etcdOptions: EtcdServerOptions | undefined;
let server: EtcdServer | undefined;
let kv: KvStore | undefined;

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pgpilot-etcd-kv-'));
  etcdOptions = {
    dataDir: path.join(dir, 'data'),
    clientPort: await freePort(),
    peerPort: await freePort(),
    logFile: path.join(dir, 'etcd.log'),
  };
  server = await startEtcd(etcdOptions);
  kv = etcdKv({ endpoints: [server.endpoint] });
});

after(async () => {
  await kv?.close();
  await server?.stop();
  await fs.rm(dir, { recursive: true, force: true });
});

function live(): { kv: KvStore; endpoint: string } {
  assert.ok(kv && server, 'etcd did not start');
  return { kv, endpoint: server.endpoint };
}

async function deadEndpoint(): Promise<string> {
  return `http://127.0.0.1:${await freePort()}`;
}

function isDcsError(...mentions: string[]): (e: unknown) => boolean {
  return (e) => e instanceof PgpilotError && e.code === 'Dcs' && mentions.every((m) => e.message.includes(m)) &&
    e.hint !== undefined;
}

kvContractTests(() => live().kv, '/pgpilot-e2e/');

test('a lease that is not kept alive expires and takes its key', async () => {
  const lease = await live().kv.grantLease(2);
  await live().kv.put('/expiry/k', 'v', { lease });
  await waitFor('the leased key to vanish', async () => (await live().kv.get('/expiry/k')) === undefined, {
    timeoutMs: 10_000,
    intervalMs: 100,
  });
  assert.equal(await live().kv.keepAlive(lease), 0);
});

test('fails over to the second endpoint when the first one is a dead port, and remembers it', async () => {
  const warnings: string[] = [];
  const logger: Logger = { ...silentLogger, warn: (msg, fields) => warnings.push(`${msg} ${String(fields?.endpoint)}`) };
  const dead = await deadEndpoint();
  const failover = etcdKv({ endpoints: [dead, live().endpoint], logger });
  try {
    assert.equal(await failover.put('/failover/k', 'v'), true);
    assert.equal((await failover.get('/failover/k'))?.value, 'v');
    assert.deepEqual(warnings, [`etcd endpoint unreachable, trying the next one ${dead}`]);
  } finally {
    await failover.close();
  }
});

test('a watch that starts on a dead endpoint moves to the live one', async () => {
  const failover = etcdKv({ endpoints: [await deadEndpoint(), live().endpoint] });
  const stop = new AbortController();
  const keys: string[] = [];
  failover.watch('/moved/', 0, (e) => keys.push(e.type === 'put' ? e.entry.key : e.key), stop.signal);
  await live().kv.put('/moved/k', 'v');
  await waitFor('the watch event', () => keys.length > 0, { timeoutMs: 5000, intervalMs: 20 });
  stop.abort();
  await failover.close();
  assert.deepEqual(keys, ['/moved/k']);
});

test('with every endpoint dead, a call fails with a Dcs error naming the endpoints and the operation', async () => {
  const endpoints = [await deadEndpoint(), await deadEndpoint()];
  const dead = etcdKv({ endpoints });
  await assert.rejects(dead.get('/some/key'), isDcsError('get /some/key', ...endpoints));
  await dead.close();
});

test('a request that gets no answer fails after requestTimeoutMs', async (t) => {
  const silent = net.createServer(() => undefined);
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const address = silent.address();
  assert.ok(typeof address === 'object' && address !== null);
  const endpoint = `http://127.0.0.1:${address.port}`;
  const mute = etcdKv({ endpoints: [endpoint], requestTimeoutMs: 300 });
  t.after(async () => {
    await mute.close();
    silent.close();
  });
  const started = Date.now();
  await assert.rejects(mute.keepAlive('1'), isDcsError('keepAlive 1', endpoint, 'no answer within 300 ms'));
  assert.ok(Date.now() - started < 2000);
});

test('a watch on a dead endpoint reports errors and keeps retrying until aborted', async () => {
  const endpoint = await deadEndpoint();
  const dead = etcdKv({ endpoints: [endpoint] });
  const errors: unknown[] = [];
  const stop = new AbortController();
  dead.watch('/w/', 0, () => undefined, stop.signal, (e) => errors.push(e));
  await waitFor('two watch errors', () => errors.length >= 2, { timeoutMs: 5000, intervalMs: 20 });
  stop.abort();
  assert.ok(isDcsError('watch /w/', endpoint)(errors[0]));
  await dead.close();
});

test('after an etcd restart, a watch resumes from the last event it saw and calls work again', async () => {
  const seen: string[] = [];
  const errors: unknown[] = [];
  const stop = new AbortController();
  const from = (await live().kv.range('/restart/')).revision;
  live().kv.watch('/restart/', from, (e) => seen.push(e.type === 'put' ? e.entry.value : 'deleted'), stop.signal, (e) =>
    errors.push(e));
  await live().kv.put('/restart/k', 'before');
  await waitFor('the first event', () => seen.length === 1, { timeoutMs: 5000, intervalMs: 20 });
  assert.ok(server && etcdOptions);
  await server.stop();
  server = await startEtcd(etcdOptions);
  await live().kv.put('/restart/k', 'after');
  await live().kv.delete('/restart/k');
  await waitFor('the events after the restart', () => seen.length === 3, { timeoutMs: 10_000, intervalMs: 20 });
  stop.abort();
  assert.deepEqual(seen, ['before', 'after', 'deleted']);
  assert.ok(errors.length > 0);
});
