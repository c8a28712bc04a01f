// Unit tests of the agent config: defaults, derived addresses, render/parse round trip and errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PgpilotError } from '../base/errors.js';
import { parseAgentConfig, renderAgentConfig } from './agent-config.js';
import type { AgentConfig } from './types.js';

const minimal = `
name: ha-0
scope: ha
dcs:
  endpoints: [http://127.0.0.1:2379]
postgres:
  dataDir: /var/lib/pgpilot/ha/ha-0/data
  port: 5433
  logFile: /var/lib/pgpilot/ha/ha-0/postgres.log
api:
  port: 8010
  tokenFile: /var/lib/pgpilot/ha/api.token
secrets:
  superuserPasswordFile: /var/lib/pgpilot/ha/superuser.password
  replicationPasswordFile: /var/lib/pgpilot/ha/replication.password
`;

/** The problem lines of the error parseAgentConfig throws for `text`. */
function problems(text: string): string[] {
  try {
    parseAgentConfig(text, 'agent.yaml');
  } catch (e) {
    assert.ok(e instanceof PgpilotError && e.code === 'Config', `expected a Config error, got ${String(e)}`);
    assert.match(e.message, /^invalid agent config agent\.yaml:\n/);
    return e.message.split('\n').slice(1).map((line) => line.trim());
  }
  assert.fail('the agent config was accepted');
}

test('defaults fill the optional fields; addresses and the socket directory derive from their siblings', () => {
  const config = parseAgentConfig(minimal, 'agent.yaml');
  assert.equal(config.namespace, '/service');
  assert.deepEqual(config.postgres, {
    dataDir: '/var/lib/pgpilot/ha/ha-0/data',
    binDir: '/usr/lib/postgresql/15/bin',
    listen: '127.0.0.1',
    connectAddress: '127.0.0.1',
    port: 5433,
    socketDir: '/var/lib/pgpilot/ha/ha-0',
    logFile: '/var/lib/pgpilot/ha/ha-0/postgres.log',
    runAs: 'postgres',
    parameters: {},
  });
  assert.equal(config.api.connectAddress, '127.0.0.1');
  assert.deepEqual(config.bootstrap, { method: 'initdb', users: [], databases: [] });
  assert.deepEqual(config.ha, { ttl: 3, loopWait: 1, retryTimeout: 1, maximumLagOnFailover: 1048576, replicaMethods: ['basebackup'] });
  assert.deepEqual(config.synchronous, { mode: 'off', number: 1, strict: false });
  assert.deepEqual(config.tags, { nofailover: false });
});

test('render then parse gives the same config', () => {
  const config: AgentConfig = {
    ...parseAgentConfig(minimal, 'agent.yaml'),
    postgres: {
      ...parseAgentConfig(minimal, 'agent.yaml').postgres,
      listen: '0.0.0.0',
      connectAddress: '10.0.0.5',
      parameters: { shared_buffers: '128MB', max_connections: 100, hot_standby: true, log_min_duration_statement: '100' },
    },
    bootstrap: {
      method: 'initdb',
      users: [{ name: 'app', options: ['CREATEDB'], passwordFile: '/var/lib/pgpilot/ha/app.password' }],
      databases: [{ name: 'app', owner: 'app' }],
    },
    tags: { nofailover: true },
  };
  const text = renderAgentConfig(config);
  assert.match(text, /^\{\n  "name": /, 'JSON, which agents read without the yaml library');
  assert.deepEqual(parseAgentConfig(text, 'rendered.yaml'), config);
});

test('a wildcard listen address needs an explicit connectAddress', () => {
  const text = minimal.replace('  port: 5433', '  port: 5433\n  listen: 0.0.0.0');
  assert.deepEqual(problems(text), [
    'postgres.connectAddress: required field missing (default: same as listen, unless listen is a wildcard (0.0.0.0, ::, *))',
  ]);
  assert.deepEqual(problems(text.replace('listen: 0.0.0.0', 'listen: 0.0.0.0\n  connectAddress: "*"')), [
    'postgres.connectAddress: must be an address other members can reach, not a wildcard, got "*"',
  ]);
});

test('every problem is reported, with its path', () => {
  const text = minimal
    .replace('endpoints: [http://127.0.0.1:2379]', 'endpoints: []')
    .replace('dataDir: /var/lib/pgpilot/ha/ha-0/data', 'dataDir: data')
    .replace('  tokenFile: /var/lib/pgpilot/ha/api.token\n', '  tokenfile: /var/lib/pgpilot/ha/api.token\n');
  assert.deepEqual(problems(text), [
    'dcs.endpoints: must have at least 1 item, got 0',
    'postgres.dataDir: must be an absolute path, got "data"',
    'api.tokenfile: unknown field (did you mean "tokenFile"?)',
    'api.tokenFile: required field missing',
  ]);
});

test('bootstrap roles, ha timing and replica methods follow the manifest rules', () => {
  const text = `${minimal}bootstrap:\n  databases: [{name: app, owner: app}]\nha: {ttl: 4, retryTimeout: 3, replicaMethods: [backup]}\n`;
  assert.deepEqual(problems(text), [
    'bootstrap.databases[0].owner: role "app" is not in bootstrap.users',
    "ha.ttl: must be greater than loopWait + retryTimeout = 1 + 3 = 4 (Patroni's rule: the leader must renew its lease before it expires), got 4",
    'ha.replicaMethods[0]: needs a repository in backup.repos to restore from, got "backup"',
  ]);
});
