// Unit tests of pgbouncer.ini rendering: databases per target, the ro pooler's host list or choice, settings, refusals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { destination, listenAddress, renderPoolerIni, type PoolerConfig } from './config.js';

const base: PoolerConfig = {
  name: 'rw', listenAddr: '127.0.0.1', listenPort: 6432, socketDir: '/run/pgpilot/rw', authFile: '/run/pgpilot/rw/auth_file',
  pidFile: '/run/pgpilot/rw/pgbouncer.pid', poolMode: 'transaction', adminUsers: ['pooler_admin'],
  databases: ['postgres', 'app'], targets: [{ host: '10.0.0.1', port: 5432 }],
};

test('renders the rw pooler: one entry per database to the primary, and the fixed settings', () => {
  assert.equal(renderPoolerIni(base), [
    '; pgbouncer.ini of the rw pooler, written by pgpilot: edits are overwritten',
    '[databases]',
    'app = host=10.0.0.1 port=5432',
    'postgres = host=10.0.0.1 port=5432',
    '',
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    'listen_port = 6432',
    'unix_socket_dir = /run/pgpilot/rw',
    'auth_file = /run/pgpilot/rw/auth_file',
    'pidfile = /run/pgpilot/rw/pgbouncer.pid',
    'pool_mode = transaction',
    'admin_users = pooler_admin',
    'auth_type = scram-sha-256',
    'server_check_delay = 1',
    'server_login_retry = 1',
    'server_connect_timeout = 5',
    'query_wait_timeout = 120',
    'ignore_startup_parameters = extra_float_digits,options',
    '',
  ].join('\n'));
});

test('optional settings appear when given; odd database names are quoted', () => {
  const ini = renderPoolerIni({ ...base, logFile: '/var/log/pgb.log', maxClientConn: 500, defaultPoolSize: 10, databases: ['my-app', 'app'] });
  assert.match(ini, /^"my-app" = host=10\.0\.0\.1 port=5432$/m);
  assert.match(ini, /^logfile = \/var\/log\/pgb\.log$/m);
  assert.match(ini, /^max_client_conn = 500$/m);
  assert.match(ini, /^default_pool_size = 10$/m);
});

test('no target: the databases are left out, so clients fail at once instead of waiting', () => {
  const ini = renderPoolerIni({ ...base, targets: [] });
  assert.doesNotMatch(ini, /host=/);
  assert.match(ini, /^\[databases\]\n; no healthy primary: clients get "no such database"\n\n\[pgbouncer\]$/m);
  assert.match(renderPoolerIni({ ...base, name: 'ro', targets: [] }), /; no healthy replica/);
});

test('ro: replicas on one port but different hosts form a sorted host list', () => {
  const targets = [{ host: '10.0.0.3', port: 5432, lagBytes: 10 }, { host: '10.0.0.2', port: 5432 }];
  assert.deepEqual(destination('ro', targets), { hosts: ['10.0.0.2', '10.0.0.3'], port: 5432 });
  assert.match(renderPoolerIni({ ...base, name: 'ro', targets }), /^app = host=10\.0\.0\.2,10\.0\.0\.3 port=5432$/m);
});

test('ro: replicas on different ports get one entry to the least-lagging one, ties by address', () => {
  const targets = [
    { host: '127.0.0.1', port: 5434, lagBytes: 900 },
    { host: '127.0.0.1', port: 5433, lagBytes: 100 },
    { host: '127.0.0.1', port: 5435 },
  ];
  assert.deepEqual(destination('ro', targets), { hosts: ['127.0.0.1'], port: 5433 });
  assert.deepEqual(destination('ro', [...targets].reverse()), { hosts: ['127.0.0.1'], port: 5433 });
  assert.deepEqual(destination('ro', [{ host: 'b', port: 1 }, { host: 'a', port: 2 }]), { hosts: ['a'], port: 2 });
  assert.deepEqual(destination('ro', [{ host: 'h', port: 7 }, { host: 'h', port: 6 }]), { hosts: ['h'], port: 6 });
  assert.equal(destination('ro', []), undefined);
});

test('refuses bad targets, a second primary, the console name and bad admin users', () => {
  assert.throws(() => destination('rw', [{ host: 'a b', port: 5432 }]), /invalid pooler target/);
  assert.throws(() => destination('rw', [{ host: 'a', port: 0 }]), /invalid pooler target/);
  assert.throws(() => destination('rw', [{ host: 'a', port: 1 }, { host: 'b', port: 1 }]), /leads to one primary/);
  assert.throws(() => renderPoolerIni({ ...base, databases: ['pgbouncer'] }), /cannot be a pooled database name/);
  assert.throws(() => renderPoolerIni({ ...base, adminUsers: ['x,y'] }), /invalid pooler admin user/);
  assert.throws(() => renderPoolerIni({ ...base, socketDir: '/a\nb' }), /line break/);
  assert.deepEqual(destination('rw', [{ host: '/var/run/postgresql', port: 5432 }]), { hosts: ['/var/run/postgresql'], port: 5432 });
});

test('reads the TCP listen address back from an ini', () => {
  assert.deepEqual(listenAddress(renderPoolerIni(base)), { host: '127.0.0.1', port: 6432 });
  assert.deepEqual(listenAddress('listen_addr = *\n'), { host: '127.0.0.1', port: 6432 });
  assert.deepEqual(listenAddress('listen_addr = 10.0.0.5, 10.0.0.6\nlisten_port=7000\n'), { host: '10.0.0.5', port: 7000 });
  assert.throws(() => listenAddress('listen_port = 7000\n'), /no TCP listen_addr/);
});
