// Unit tests of role attributes and SCRAM verifiers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { roleAttributes, scramVerifier } from './roles.js';

test('role attributes: LOGIN first, REPLICATION on request, options validated', () => {
  assert.equal(roleAttributes({ name: 'app', options: ['createdb', ' connection  limit 5'] }), 'LOGIN CREATEDB CONNECTION LIMIT 5');
  assert.equal(roleAttributes({ name: 'replicator', options: [], replication: true }), 'LOGIN REPLICATION');
  assert.throws(() => roleAttributes({ name: 'x', options: ["SUPERUSER PASSWORD 'p'"] }), /role "x" has an unknown option/);
});

test('SCRAM verifiers have PostgreSQL format and depend on the salt only', async () => {
  const salt = Buffer.alloc(16, 7);
  const a = await scramVerifier('secret', salt);
  assert.equal(a, await scramVerifier('secret', salt));
  assert.match(a, /^SCRAM-SHA-256\$4096:BwcHBwcHBwcHBwcHBwcHBw==\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=$/);
  assert.notEqual(a, await scramVerifier('other', salt));
  assert.notEqual(a, await scramVerifier('secret'));
  assert.ok(!a.includes('secret'));
});
