// The behaviour every KvStore must show, as node:test cases shared by the memory fake's and the etcd driver's tests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../base/wait.js';
import type { KvStore, WatchEvent } from './kv.js';

/**
 * Registers the contract's tests. `store()` is called inside each test (so it may be set up in a `before` hook);
 * `prefix` keeps these keys apart from other tests on the same store.
 */
export function kvContractTests(store: () => KvStore, prefix: string): void {
  const key = (name: string): string => `${prefix}${name}`;

  test('put and get round-trip; a rewrite keeps createRevision and moves modRevision', async () => {
    const kv = store();
    assert.equal(await kv.get(key('absent')), undefined);
    assert.equal(await kv.put(key('rt'), 'één ✓'), true);
    const first = await kv.get(key('rt'));
    assert.equal(await kv.put(key('rt'), 'two'), true);
    const second = await kv.get(key('rt'));
    assert.ok(first && second);
    assert.deepEqual([first.value, first.lease, second.value], ['één ✓', '0', 'two']);
    assert.equal(second.createRevision, first.createRevision);
    assert.ok(second.modRevision > first.modRevision);
  });

  test('ifAbsent writes only a new key', async () => {
    const kv = store();
    assert.equal(await kv.put(key('absent-once'), 'a', { ifAbsent: true }), true);
    assert.equal(await kv.put(key('absent-once'), 'b', { ifAbsent: true }), false);
    assert.equal((await kv.get(key('absent-once')))?.value, 'a');
  });

  test('ifValue writes only over the expected value, never over an absent key', async () => {
    const kv = store();
    assert.equal(await kv.put(key('cas'), 'x', { ifValue: '' }), false);
    await kv.put(key('cas'), 'old');
    assert.equal(await kv.put(key('cas'), 'new', { ifValue: 'other' }), false);
    assert.equal(await kv.put(key('cas'), 'new', { ifValue: 'old' }), true);
    assert.equal((await kv.get(key('cas')))?.value, 'new');
  });

  test('ifModRevision writes only at the expected revision; 0 means absent', async () => {
    const kv = store();
    assert.equal(await kv.put(key('mod'), 'a', { ifModRevision: 1 }), false);
    assert.equal(await kv.put(key('mod'), 'a', { ifModRevision: 0 }), true);
    assert.equal(await kv.put(key('mod'), 'b', { ifModRevision: 0 }), false);
    const entry = await kv.get(key('mod'));
    assert.equal(await kv.put(key('mod'), 'c', { ifModRevision: (entry?.modRevision ?? 0) - 1 }), false);
    assert.equal(await kv.put(key('mod'), 'c', { ifModRevision: entry?.modRevision ?? 0 }), true);
    assert.equal((await kv.get(key('mod')))?.value, 'c');
  });

  test('delete: conditional on the value, false when nothing was deleted, whole prefixes', async () => {
    const kv = store();
    assert.equal(await kv.delete(key('del/none')), false);
    await kv.put(key('del/one'), 'v');
    assert.equal(await kv.delete(key('del/one'), { ifValue: 'w' }), false);
    assert.equal(await kv.delete(key('del/one'), { ifValue: 'v' }), true);
    assert.equal(await kv.get(key('del/one')), undefined);
    await kv.put(key('del/tree/a'), '1');
    await kv.put(key('del/tree/b'), '2');
    await kv.put(key('del/treehouse'), '3');
    assert.equal(await kv.delete(key('del/tree/'), { prefix: true }), true);
    const left = await kv.range(key('del/'));
    assert.deepEqual(left.entries.map((e) => e.key), [key('del/treehouse')]);
  });

  test('range returns the keys under a prefix in order, with a revision covering them', async () => {
    const kv = store();
    for (const name of ['r/b', 'r/a', 'r/é', 'r0', 'q']) await kv.put(key(name), name);
    const { entries, revision } = await kv.range(key('r/'));
    assert.deepEqual(entries.map((e) => e.value), ['r/a', 'r/b', 'r/é']);
    assert.ok(entries.every((e) => e.modRevision <= revision));
    assert.deepEqual((await kv.range(key('nothing/'))).entries, []);
  });

  test('a key on a lease goes with the lease; keepAlive of a revoked lease is 0', async () => {
    const kv = store();
    const lease = await kv.grantLease(2);
    assert.match(lease, /^[1-9][0-9]*$/);
    assert.equal(await kv.put(key('leased'), 'v', { lease }), true);
    assert.equal((await kv.get(key('leased')))?.lease, lease);
    assert.ok((await kv.keepAlive(lease)) > 0);
    await kv.revokeLease(lease);
    assert.equal(await kv.get(key('leased')), undefined);
    assert.equal(await kv.keepAlive(lease), 0);
    await kv.revokeLease(lease);
  });

  test('watch reports puts and deletes after fromRevision, and stops when aborted', async () => {
    const kv = store();
    await kv.put(key('w/before'), 'old');
    const { revision } = await kv.range(key('w/'));
    const stop = new AbortController();
    const events = collect(kv, key('w/'), revision, stop.signal);
    await kv.put(key('w/k'), 'v');
    await kv.put(key('elsewhere'), 'v');
    await kv.delete(key('w/k'));
    await waitFor('two watch events', () => events.length >= 2, { timeoutMs: 5000, intervalMs: 20 });
    stop.abort();
    assert.deepEqual(
      events.map((e) => (e.type === 'put' ? `put ${e.entry.key}=${e.entry.value}` : `delete ${e.key}`)),
      [`put ${key('w/k')}=v`, `delete ${key('w/k')}`],
    );
    const [put, del] = events;
    assert.ok(put?.type === 'put' && del?.type === 'delete' && del.modRevision > put.entry.modRevision);
    // A second watcher seeing a later put shows the first one had its chance to see it too.
    const witness = new AbortController();
    const later = collect(kv, key('w/'), (await kv.range(key('w/'))).revision, witness.signal);
    await kv.put(key('w/after'), 'v');
    await waitFor('the witness watch event', () => later.length >= 1, { timeoutMs: 5000, intervalMs: 20 });
    witness.abort();
    assert.equal(events.length, 2);
  });
}

/** Starts a watch whose events land in the returned array. */
function collect(kv: KvStore, prefix: string, fromRevision: number, signal: AbortSignal): WatchEvent[] {
  const events: WatchEvent[] = [];
  kv.watch(prefix, fromRevision, (event) => events.push(event), signal);
  return events;
}
