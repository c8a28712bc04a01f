// Unit tests of pgpilot.conf rendering: quoting, managed settings, overridable defaults, replica settings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { conninfo, quoteValue, renderConf, type ConfSettings } from './conf.js';

const base: ConfSettings = { dataDir: '/d/data', listen: '127.0.0.1', port: 5432, socketDir: '/d', parameters: {} };

test('quotes strings, leaves numbers and booleans bare', () => {
  assert.equal(quoteValue('a', "it's \\here"), "'it''s \\\\here'");
  assert.equal(quoteValue('a', 42), '42');
  assert.equal(quoteValue('a', 1.5), '1.5');
  assert.equal(quoteValue('a', false), 'false');
  assert.throws(() => quoteValue('a', 'x\ny'), /parameter "a" contains a control character/);
  assert.throws(() => quoteValue('a', Infinity), /not a finite number/);
});

test('renders the managed settings and replication defaults', () => {
  const text = renderConf(base);
  for (const line of [
    "listen_addresses = '127.0.0.1'", 'port = 5432', "unix_socket_directories = '/d'",
    "hba_file = '/d/data/pg_hba.conf'", "wal_level = 'replica'", 'hot_standby = true', 'max_wal_senders = 10',
    'max_replication_slots = 10', 'wal_log_hints = true', "password_encryption = 'scram-sha-256'",
    "log_destination = 'stderr'", 'logging_collector = false',
  ]) assert.ok(text.split('\n').includes(line), line);
  assert.doesNotMatch(text, /primary_conninfo/);
});

test('user parameters override defaults once, case-insensitively, and cannot touch owned settings', () => {
  const text = renderConf({ ...base, parameters: { Max_Wal_Senders: 20, 'pg_stat_statements.max': 500, work_mem: '8MB' } });
  assert.equal(text.match(/max_wal_senders/g)?.length, 1);
  assert.match(text, /^max_wal_senders = 20$/m);
  assert.match(text, /^pg_stat_statements\.max = 500$/m);
  assert.match(text, /^work_mem = '8MB'$/m);
  assert.throws(() => renderConf({ ...base, parameters: { port: 1 } }), /"port" is managed by pgpilot/);
  assert.throws(() => renderConf({ ...base, parameters: { 'x = 1\nport': 1 } }), /is not a parameter name/);
});

test('a replica streams with a passfile, never an inline password', () => {
  const text = renderConf({
    ...base,
    primary: { host: '10.0.0.1', port: 5433, user: 'replicator', appName: 'ha_2', passFile: '/d/my pass', slot: 'ha_2' },
  });
  assert.match(text, /^primary_conninfo = 'host=10\.0\.0\.1 port=5433 user=replicator application_name=ha_2 passfile=''\/d\/my pass'''$/m);
  assert.match(text, /^primary_slot_name = 'ha_2'$/m);
  assert.doesNotMatch(text, /password=/);
});

test('conninfo quotes values with spaces, quotes and backslashes', () => {
  assert.equal(conninfo({ host: 'h', port: 1 }), 'host=h port=1');
  assert.equal(conninfo({ passfile: "a b'c\\d" }), "passfile='a b\\'c\\\\d'");
  assert.equal(conninfo({ application_name: '' }), "application_name=''");
});
