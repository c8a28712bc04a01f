// Unit tests of how logical dumps reach PostgreSQL's client programs: quoted connection strings, no inherited PG*.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { conninfo, toolEnv, toolPath } from './logical-dump.js';

const conn = { host: '127.0.0.1', port: 5432, user: 'postgres', passFile: '/tmp/pgpass' };

test('connection strings quote every value, so odd database names stay one value', () => {
  assert.equal(conninfo(conn, 'app'), "host='127.0.0.1' port='5432' user='postgres' dbname='app'");
  assert.equal(conninfo(conn, "it's a\\b host=x"), "host='127.0.0.1' port='5432' user='postgres' dbname='it\\'s a\\\\b host=x'");
});

test('client programs get the password file and none of our PG* variables', () => {
  process.env.PGPASSWORD = 'leak';
  try {
    const env = toolEnv(conn, undefined);
    assert.equal(env.PGPASSFILE, '/tmp/pgpass');
    assert.equal(env.PGPASSWORD, undefined);
  } finally {
    delete process.env.PGPASSWORD;
  }
  assert.equal(toolPath(conn, 'pg_dump'), '/usr/lib/postgresql/15/bin/pg_dump');
  assert.equal(toolPath({ ...conn, binDir: '/opt/pg/bin' }, 'pg_restore'), '/opt/pg/bin/pg_restore');
});
