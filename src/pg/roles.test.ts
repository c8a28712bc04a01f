// Unit tests of role attributes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { roleAttributes } from './roles.js';

test('role attributes: LOGIN first, REPLICATION on request, options validated', () => {
  assert.equal(roleAttributes({ name: 'app', options: ['createdb', ' connection  limit 5'] }), 'LOGIN CREATEDB CONNECTION LIMIT 5');
  assert.equal(roleAttributes({ name: 'replicator', options: [], replication: true }), 'LOGIN REPLICATION');
  assert.throws(() => roleAttributes({ name: 'x', options: ["SUPERUSER PASSWORD 'p'"] }), /role "x" has an unknown option/);
});
