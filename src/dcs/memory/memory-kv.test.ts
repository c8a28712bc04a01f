// Unit tests of the in-memory KvStore: the shared contract, lease expiry by the fake clock, unreachable mode.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PgpilotError } from '../../base/errors.js';
import { waitFor } from '../../base/wait.js';
import type { WatchEvent } from '../kv.js';
import { kvContractTests } from '../kv-contract.js';
import { memoryKv } from './memory-kv.js';

const isDcsError = (e: unknown): boolean => e instanceof PgpilotError && e.code === 'Dcs';

kvContractTests(() => memoryKv(), '/contract/');

test('a lease expires by the injected clock and takes its keys, unless kept alive', async () => {
  let now = 1_000;
  const kv = memoryKv({ now: () => now });
  const lease = await kv.grantLease(10);
  await kv.put('/leader', 'm1', { lease });
  await kv.put('/config', 'c');
  now += 9_000;
  assert.equal(await kv.keepAlive(lease), 10);
  now += 9_999;
  assert.equal((await kv.get('/leader'))?.value, 'm1');
  now += 1;
  assert.equal(await kv.get('/leader'), undefined);
  assert.equal((await kv.get('/config'))?.value, 'c');
  assert.equal(await kv.keepAlive(lease), 0);
  await assert.rejects(kv.put('/leader', 'm2', { lease }), isDcsError);
});

test('an expired lease shows in watches as deletes', async () => {
  let now = 0;
  const kv = memoryKv({ now: () => now });
  const lease = await kv.grantLease(1);
  await kv.put('/members/m1', '{}', { lease });
  const events: WatchEvent[] = [];
  kv.watch('/members/', (await kv.range('/members/')).revision, (e) => events.push(e), new AbortController().signal);
  now = 1_000;
  await kv.range('/');
  await waitFor('the delete event', () => events.length > 0, { timeoutMs: 1000, intervalMs: 5 });
  assert.deepEqual(events.map((e) => e.type === 'delete' && e.key), ['/members/m1']);
});

test('unreachable: every call fails with a Dcs error until reachable again, and nothing is lost', async () => {
  const kv = memoryKv();
  await kv.put('/k', 'v');
  kv.setReachable(false);
  for (const call of [
    () => kv.get('/k'),
    () => kv.range('/'),
    () => kv.put('/k', 'w'),
    () => kv.delete('/k'),
    () => kv.grantLease(5),
    () => kv.keepAlive('1'),
    () => kv.revokeLease('1'),
  ]) {
    await assert.rejects(call(), isDcsError);
  }
  const errors: unknown[] = [];
  kv.watch('/', 0, () => undefined, new AbortController().signal, (e) => errors.push(e));
  await waitFor('the watch error', () => errors.length > 0, { timeoutMs: 1000, intervalMs: 5 });
  assert.ok(isDcsError(errors[0]));
  kv.setReachable(true);
  assert.equal((await kv.get('/k'))?.value, 'v');
});
