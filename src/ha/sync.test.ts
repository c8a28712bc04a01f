// Unit tests of the synchronous replication rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { desiredSync, nextSyncKey, standbyNames, syncCandidates, syncPolicy } from './sync.js';

const row = (name: string, state = 'streaming', sync = 'async'): { application_name: string; client_addr: null; state: string; sync_state: string } =>
  ({ application_name: name, client_addr: null, state, sync_state: sync });

test('the policy comes from Patroni-style config keys', () => {
  assert.deepEqual(syncPolicy(undefined), { mode: 'off', number: 1, strict: false });
  const base = { ttl: 4, loop_wait: 1, retry_timeout: 1, maximum_lag_on_failover: 1, postgresql: { parameters: {} } };
  assert.deepEqual(syncPolicy({ ...base, synchronous_mode: true, synchronous_node_count: 2, synchronous_mode_strict: true }), { mode: 'on', number: 2, strict: true });
  assert.equal(syncPolicy({ ...base, synchronous_mode: 'quorum' }).mode, 'quorum');
});

test('candidates are streaming known members without nofailover', () => {
  const members = [{ name: 'a', nofailover: false }, { name: 'b', nofailover: true }, { name: 'c', nofailover: false }];
  assert.deepEqual(syncCandidates([row('c'), row('b'), row('a'), row('x'), row('a2', 'catchup')], members), ['a', 'c']);
});

test('synchronous_standby_names follows the mode', () => {
  const on = { mode: 'on' as const, number: 1, strict: false };
  assert.equal(standbyNames(on, desiredSync(on, ['a', 'c'])), 'FIRST 1 ("a")');
  const quorum = { mode: 'quorum' as const, number: 1, strict: false };
  assert.equal(standbyNames(quorum, desiredSync(quorum, ['a', 'c'])), 'ANY 1 ("a","c")');
  assert.equal(standbyNames(on, []), '');
  assert.equal(standbyNames({ ...on, strict: true }, []), '*');
  assert.equal(standbyNames({ ...on, number: 3 }, ['a', 'c']), 'FIRST 2 ("a","c")');
});

test('the sync key drops a member at once but adds one only when PostgreSQL reports it synchronous', () => {
  assert.deepEqual(nextSyncKey(['a'], ['c'], []), []);
  assert.deepEqual(nextSyncKey([], ['c'], ['c']), ['c']);
  assert.deepEqual(nextSyncKey(['a'], ['a', 'c'], ['a']), ['a']);
  assert.deepEqual(nextSyncKey(['a'], ['a', 'c'], ['a', 'c']), ['a', 'c']);
});
