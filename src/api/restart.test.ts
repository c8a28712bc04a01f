// Unit tests of the POST /restart conditions Patroni's API takes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { primaryStatus, replicaStatus } from './fixtures.js';
import { restartRefusal } from './restart.js';

test('no options, or matching ones, restart now', () => {
  assert.equal(restartRefusal({}, primaryStatus()), undefined);
  assert.equal(restartRefusal({ role: 'primary' }, primaryStatus()), undefined);
  const pending = replicaStatus({ pendingRestart: true });
  assert.equal(restartRefusal({ role: 'replica', restart_pending: true }, pending), undefined);
});

test('conditions that do not match answer 503', () => {
  assert.equal(restartRefusal({ restart_pending: true }, primaryStatus())?.status, 503);
  assert.equal(restartRefusal({ role: 'master' }, replicaStatus())?.status, 503);
});

test('unknown and unsupported options answer 400', () => {
  assert.deepEqual(restartRefusal({ schedule: '2030-01-01T00:00:00Z' }, primaryStatus()), {
    status: 400,
    message: 'restart option "schedule" is not supported by pgpilot',
  });
  assert.equal(restartRefusal({ bogus: 1 }, primaryStatus())?.status, 400);
  assert.equal(restartRefusal({ role: 'leader' }, primaryStatus())?.status, 400);
});
