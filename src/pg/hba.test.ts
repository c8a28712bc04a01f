// Unit tests of pg_hba.conf rendering: loopback-only versus open listen addresses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isLoopbackOnly, renderHba } from './hba.js';

test('loopback detection', () => {
  assert.equal(isLoopbackOnly('127.0.0.1'), true);
  assert.equal(isLoopbackOnly('localhost, ::1,127.0.0.2'), true);
  assert.equal(isLoopbackOnly('*'), false);
  assert.equal(isLoopbackOnly('127.0.0.1,10.0.0.5'), false);
});

test('loopback listen: peer on the socket, scram on loopback TCP only', () => {
  const lines = renderHba({ listen: '127.0.0.1', replicationUser: 'replicator' }).split('\n');
  assert.ok(lines.includes('local   all          all            peer'));
  assert.ok(lines.includes('host    all          all   127.0.0.1/32  scram-sha-256'));
  assert.ok(lines.includes('host    replication  "replicator"  ::1/128  scram-sha-256'));
  assert.ok(!lines.some((l) => l.includes('0.0.0.0/0')));
  assert.ok(!lines.some((l) => /\b(trust|md5|password)\b/.test(l)));
});

test('other listen addresses open all networks, still with scram', () => {
  const text = renderHba({ listen: '*', replicationUser: 'replicator' });
  assert.match(text, /^host {4}all {10}all {3}0\.0\.0\.0\/0 {2}scram-sha-256$/m);
  assert.match(text, /^host {4}replication {2}"replicator" {2}::\/0 {2}scram-sha-256$/m);
});
