// Unit tests of pgpass rendering: escaping of backslash and colon, wildcards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escapePgpassField, renderPgpass } from './pgpass.js';

test('escapes backslash and colon', () => {
  assert.equal(escapePgpassField('a:b\\c'), 'a\\:b\\\\c');
  assert.equal(escapePgpassField('*'), '*');
  assert.throws(() => escapePgpassField('a\nb'), /line break/);
});

test('renders one line per entry', () => {
  const text = renderPgpass([
    { host: '127.0.0.1', port: 5432, database: 'replication', user: 'replicator', password: 'p:w\\d' },
    { host: '*', port: '*', database: '*', user: 'postgres', password: 'x' },
  ]);
  assert.equal(text, '127.0.0.1:5432:replication:replicator:p\\:w\\\\d\n*:*:*:postgres:x\n');
});
