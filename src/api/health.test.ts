// Unit tests of the health decisions: primary, replica, stopped, lagging and a stale agent loop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MemberStatus } from '../model/cluster.js';
import { fixtureNow, primaryStatus, replicaStatus } from './fixtures.js';
import { healthChecks, parseByteSize } from './health.js';

/** The paths that answer 200 for a status, in table order. */
function passing(s: MemberStatus, maxLagBytes?: number): string[] {
  const probe = { now: fixtureNow, maxLagBytes };
  return [...healthChecks].filter(([, check]) => check(s, probe)).map(([path]) => path);
}

const primaryPaths = ['/', '/primary', '/master', '/leader', '/read-write'];

test('a running leader primary passes the primary checks, not /replica', () => {
  assert.deepEqual(passing(primaryStatus()), [...primaryPaths, '/read-only', '/health', '/liveness', '/readiness']);
});

test('a primary without the leader key is not /primary nor ready', () => {
  assert.deepEqual(passing(primaryStatus({ isLeader: false })), ['/health', '/liveness']);
});

test('a streaming replica passes /replica and /readiness', () => {
  assert.deepEqual(passing(replicaStatus()), ['/replica', '/read-only', '/health', '/liveness', '/readiness']);
});

test('a replica that does not stream is healthy but not ready', () => {
  assert.deepEqual(passing(replicaStatus({ streaming: false })), ['/replica', '/read-only', '/health', '/liveness']);
});

test('a stopped member only passes /liveness', () => {
  assert.deepEqual(passing(primaryStatus({ state: 'stopped' })), ['/liveness']);
  assert.deepEqual(passing(replicaStatus({ state: 'starting' })), ['/liveness']);
});

test('?lag= fails a replica further behind, and unknown lag passes', () => {
  assert.ok(passing(replicaStatus({ lagBytes: 2048 }), 1024).every((p) => p !== '/replica' && p !== '/read-only'));
  assert.ok(passing(replicaStatus({ lagBytes: 1024 }), 1024).includes('/replica'));
  assert.ok(passing(replicaStatus({ lagBytes: undefined }), 0).includes('/replica'));
});

test('liveness fails once the last loop is older than ttl', () => {
  assert.ok(passing(primaryStatus({ lastLoopAt: fixtureNow - 30_000 })).includes('/liveness'));
  assert.ok(!passing(primaryStatus({ lastLoopAt: fixtureNow - 30_001 })).includes('/liveness'));
});

test('parseByteSize reads plain bytes and PostgreSQL units, rejects the rest', () => {
  assert.equal(parseByteSize('1048576'), 1048576);
  assert.equal(parseByteSize('16kB'), 16384);
  assert.equal(parseByteSize('1MB'), 1048576);
  assert.equal(parseByteSize('1.5 GB'), 1.5 * 1024 ** 3);
  assert.equal(parseByteSize('1mb'), undefined);
  assert.equal(parseByteSize('constructor'), undefined);
  assert.equal(parseByteSize(''), undefined);
});
