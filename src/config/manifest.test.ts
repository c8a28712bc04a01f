// Unit tests of manifest validation: a table of invalid manifests, defaults, collected errors, files and examples.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { PgpilotError } from '../base/errors.js';
import { loadManifest, parseManifest } from './manifest.js';

const head = 'apiVersion: pgpilot.dev/v1\nkind: PostgresCluster\nmetadata:\n  name: t\n';

/** A manifest with the given `spec:` body (YAML lines, written without the two-space indent). */
function withSpec(...lines: string[]): string {
  return `${head}spec:\n${lines.map((l) => `  ${l}\n`).join('')}`;
}

/** The PgpilotError parseManifest throws for `text`. */
function failure(text: string): PgpilotError {
  try {
    parseManifest(text, 'test.yaml');
  } catch (e) {
    assert.ok(e instanceof PgpilotError, `expected a PgpilotError, got ${String(e)}`);
    return e;
  }
  assert.fail('the manifest was accepted');
}

/** The error lines below the `invalid manifest <file>:` heading. */
function problems(error: PgpilotError): string[] {
  return error.message.split('\n').slice(1).map((line) => line.trim());
}

interface InvalidCase {
  name: string;
  text: string;
  /** Where the problem is: a field path, `(document)`, or `line L, column C` for YAML syntax. */
  path: string;
  /** The key part of the message. */
  says: string;
}

const invalid: InvalidCase[] = [
  { name: 'unknown top-level field', text: `${head}spec: {}\nstatus: {}\n`, path: 'status', says: 'unknown field, expected one of: apiVersion, kind, metadata, spec' },
  { name: 'misspelled top-level field', text: `${head}specs: {}\n`, path: 'specs', says: 'unknown field (did you mean "spec"?)' },
  { name: 'misspelled nested field', text: withSpec('postgres:', '  prot: 5432'), path: 'spec.postgres.prot', says: 'unknown field (did you mean "port"?)' },
  { name: 'snake_case field', text: withSpec('ha:', '  loop_wait: 2'), path: 'spec.ha.loop_wait', says: 'unknown field (did you mean "loopWait"?)' },
  { name: 'string for an integer', text: withSpec('instances: "3"'), path: 'spec.instances', says: 'must be an integer, got "3"' },
  { name: 'fraction for an integer', text: withSpec('instances: 1.5'), path: 'spec.instances', says: 'must be an integer, got 1.5' },
  { name: 'no instances', text: withSpec('instances: 0'), path: 'spec.instances', says: 'must be between 1 and 9, got 0' },
  { name: 'too many instances', text: withSpec('instances: 10'), path: 'spec.instances', says: 'must be between 1 and 9, got 10' },
  {
    name: 'bad cluster name',
    text: head.replace('name: t', 'name: Bad_Name'),
    path: 'metadata.name',
    says: 'must match [a-z0-9]([-a-z0-9]*[a-z0-9])? (lowercase letters, digits and dashes, at most 40 characters), got "Bad_Name"',
  },
  { name: 'cluster name too long', text: head.replace('name: t', `name: ${'a'.repeat(41)}`), path: 'metadata.name', says: 'must be at most 40 characters long' },
  { name: 'null cluster name', text: head.replace('name: t', 'name:'), path: 'metadata.name', says: 'must be a string, got null' },
  { name: 'wrong apiVersion', text: head.replace('pgpilot.dev/v1', 'v1'), path: 'apiVersion', says: 'must be "pgpilot.dev/v1", got "v1"' },
  { name: 'wrong kind', text: head.replace('PostgresCluster', 'Cluster'), path: 'kind', says: 'must be "PostgresCluster", got "Cluster"' },
  { name: 'missing metadata', text: 'apiVersion: pgpilot.dev/v1\nkind: PostgresCluster\n', path: 'metadata', says: 'required field missing' },
  { name: 'bad enum', text: withSpec('local:', '  restart: sometimes'), path: 'spec.local.restart', says: 'must be one of "always", "never", got "sometimes"' },
  { name: 'privileged port', text: withSpec('postgres:', '  port: 80'), path: 'spec.postgres.port', says: 'must be between 1024 and 65535, got 80' },
  { name: 'owner not in users', text: withSpec('databases:', '  - name: app', '    owner: bob'), path: 'spec.databases[0].owner', says: 'role "bob" is not in spec.users' },
  { name: 'duplicate user', text: withSpec('users:', '  - name: app', '  - name: app'), path: 'spec.users[1].name', says: 'duplicate user "app"' },
  { name: 'duplicate database', text: withSpec('databases:', '  - {name: app, owner: app}', '  - {name: app, owner: app}'), path: 'spec.databases[1].name', says: 'duplicate database "app"' },
  { name: 'user name not an identifier', text: withSpec('users:', '  - name: App-User'), path: 'spec.users[0].name', says: 'must match [a-z_][a-z0-9_]*' },
  { name: 'reserved user name', text: withSpec('users:', '  - name: pg_app'), path: 'spec.users[0].name', says: 'must not start with pg_' },
  { name: 'pgpilot role as a user', text: withSpec('users:', '  - name: replicator'), path: 'spec.users[0].name', says: 'a role pgpilot manages itself' },
  { name: 'unknown role attribute', text: withSpec('users:', '  - name: app', '    options: [LOGIN]'), path: 'spec.users[0].options[0]', says: 'must be SUPERUSER, CREATEDB' },
  { name: 'users[1] without a name', text: withSpec('users:', '  - name: app', '  - options: [CREATEDB]'), path: 'spec.users[1].name', says: 'required field missing' },
  {
    name: 'managed parameter with a replacement',
    text: withSpec('postgres:', '  parameters:', '    port: 5433'),
    path: 'spec.postgres.parameters.port',
    says: 'pgpilot sets "port" itself, remove it and set postgres.port instead',
  },
  {
    name: 'managed parameter, any case',
    text: withSpec('postgres:', '  parameters:', '    Archive_Command: /bin/true'),
    path: 'spec.postgres.parameters.Archive_Command',
    says: 'pgpilot sets "archive_command" itself, remove it',
  },
  {
    name: 'parameter value not a scalar',
    text: withSpec('postgres:', '  parameters:', '    shared_buffers: [128MB]'),
    path: 'spec.postgres.parameters.shared_buffers',
    says: 'must be a string, a number or true/false, got a list',
  },
  {
    name: 'parameter name with a space',
    text: withSpec('postgres:', '  parameters:', '    "max connections": 100'),
    path: 'spec.postgres.parameters["max connections"]',
    says: 'the name must be a parameter name',
  },
  {
    name: 'endpoint not a URL',
    text: withSpec('dcs:', '  endpoints: [10.0.0.1:2379]'),
    path: 'spec.dcs.endpoints[0]',
    says: 'must be an http URL such as http://10.0.0.1:2379 (TLS to etcd is not supported yet), got "10.0.0.1:2379"',
  },
  { name: 'relative namespace', text: withSpec('dcs:', '  namespace: service'), path: 'spec.dcs.namespace', says: 'must be a key prefix starting with /' },
  {
    name: 'ttl too short for loopWait + retryTimeout',
    text: withSpec('ha:', '  ttl: 10', '  loopWait: 5', '  retryTimeout: 5'),
    path: 'spec.ha.ttl',
    says: "must be greater than loopWait + retryTimeout = 5 + 5 = 10 (Patroni's rule",
  },
  { name: 'no replica method', text: withSpec('ha: {replicaMethods: []}'), path: 'spec.ha.replicaMethods', says: 'must have at least 1 item, got 0' },
  { name: 'unknown replica method', text: withSpec('ha: {replicaMethods: [wal-e]}'), path: 'spec.ha.replicaMethods[0]', says: 'must be one of "backup", "basebackup", got "wal-e"' },
  {
    name: 'replica method listed twice',
    text: withSpec('ha: {replicaMethods: [basebackup, basebackup]}'),
    path: 'spec.ha.replicaMethods[1]',
    says: 'is listed twice (see spec.ha.replicaMethods[0]), got "basebackup"',
  },
  {
    name: 'replicas from backups without a repository',
    text: withSpec('ha: {replicaMethods: [backup, basebackup]}'),
    path: 'spec.ha.replicaMethods[0]',
    says: 'needs a repository in spec.backup.repos to restore from, got "backup"',
  },
  {
    name: 'port range past 65535',
    text: withSpec('instances: 3', 'postgres:', '  port: 65534'),
    path: 'spec.postgres.port',
    says: 'with 3 instances members use ports 65534-65536, past 65535, got 65534',
  },
  {
    name: 'overlapping port ranges',
    text: withSpec('instances: 3', 'api:', '  port: 5434'),
    path: 'spec.api.port',
    says: 'API ports 5434-5436 overlap PostgreSQL ports 5432-5434',
  },
  {
    name: 'YAML syntax error',
    text: withSpec('instances: 1: 2'),
    path: 'line 6, column 14',
    says: 'YAML syntax error: Nested mappings are not allowed in compact mappings',
  },
  { name: 'duplicate YAML key', text: `${head}spec: {}\nspec: {}\n`, path: 'line 6, column 1', says: 'YAML syntax error: Map keys must be unique' },
  { name: 'empty document', text: '# nothing here\n', path: '(document)', says: 'the document is empty, expected a mapping' },
  { name: 'a list instead of a mapping', text: '- apiVersion: pgpilot.dev/v1\n', path: '(document)', says: 'must be a mapping, got a list' },
  { name: 'spec as a list', text: `${head}spec:\n  - instances: 1\n`, path: 'spec', says: 'must be a mapping, got a list' },
];

describe('invalid manifests', () => {
  for (const c of invalid) {
    test(c.name, () => {
      const error = failure(c.text);
      assert.equal(error.code, 'Config');
      const lines = problems(error);
      assert.ok(
        lines.some((line) => line.startsWith(`${c.path}: `) && line.includes(c.says)),
        `expected "${c.path}: ...${c.says}..." in:\n${error.message}`,
      );
    });
  }
});

test('the error names the file, one line per problem, and points at the reference', () => {
  const error = failure(withSpec('instances: 0', 'postgres:', '  prot: 5432', 'local:', '  restart: sometimes'));
  assert.match(error.message, /^invalid manifest test\.yaml:\n/);
  assert.deepEqual(problems(error), [
    'spec.instances: must be between 1 and 9, got 0',
    'spec.postgres.prot: unknown field (did you mean "port"?)',
    'spec.local.restart: must be one of "always", "never", got "sometimes"',
  ]);
  assert.match(error.format(), /hint: see docs\/manifest\.md/);
});

test('rules across fields report every broken rule together', () => {
  const error = failure(
    withSpec('users: [{name: app}, {name: app}]', 'databases: [{name: app, owner: bob}]', 'ha: {ttl: 2}'),
  );
  assert.deepEqual(
    problems(error).map((line) => line.split(':')[0]),
    ['spec.users[1].name', 'spec.databases[0].owner', 'spec.ha.ttl'],
  );
});

test('defaults fill every field left out', () => {
  assert.deepEqual(parseManifest(withSpec('instances: 1'), 'test.yaml'), {
    apiVersion: 'pgpilot.dev/v1',
    kind: 'PostgresCluster',
    metadata: { name: 't' },
    spec: {
      instances: 1,
      postgres: { listen: '127.0.0.1', port: 5432, parameters: {} },
      api: { listen: '127.0.0.1', port: 8008 },
      users: [{ name: 'app', options: [] }],
      databases: [{ name: 'app', owner: 'app' }],
      dcs: { endpoints: [], namespace: '/service' },
      ha: { ttl: 3, loopWait: 1, retryTimeout: 1, maximumLagOnFailover: 1048576, replicaMethods: ['basebackup'] },
      synchronous: { mode: 'off', number: 1, strict: false },
      pooler: { enabled: false, port: 6432, mode: 'transaction' },
      backup: { repos: [], fromStandby: false, jobs: 2, logical: { repo: '', schedule: '', retention: 7, databases: [] } },
      local: { restart: 'always' },
    },
  });
});

test('a null field takes its default, and defaults are not shared between manifests', () => {
  const first = parseManifest(withSpec('postgres:', 'users:'), 'a.yaml');
  first.spec.users.push({ name: 'other', options: [] });
  first.spec.postgres.parameters['work_mem'] = '4MB';
  const second = parseManifest(withSpec('postgres:'), 'b.yaml');
  assert.deepEqual(second.spec.users, [{ name: 'app', options: [] }]);
  assert.deepEqual(second.spec.postgres.parameters, {});
});

test('a missing file is its own error', async () => {
  await assert.rejects(loadManifest('/nonexistent/cluster.yaml'), (e: unknown) => {
    assert.ok(e instanceof PgpilotError);
    assert.equal(e.code, 'Config');
    assert.equal(e.message, 'cannot read manifest /nonexistent/cluster.yaml: no such file');
    return true;
  });
});

describe('examples validate', () => {
  const examples = [
    { file: 'basic.yaml', name: 'basic', instances: 1, ports: [5432, 8008], parameters: {} },
    {
      file: 'ha.yaml',
      name: 'ha',
      instances: 3,
      ports: [5433, 8010],
      parameters: { max_connections: 100, shared_buffers: '128MB', wal_keep_size: '256MB' },
    },
  ];
  for (const expected of examples) {
    test(expected.file, async () => {
      const manifest = await loadManifest(fileURLToPath(new URL(`../../../examples/${expected.file}`, import.meta.url)));
      const { spec } = manifest;
      assert.deepEqual(
        { name: manifest.metadata.name, instances: spec.instances, ports: [spec.postgres.port, spec.api.port], parameters: spec.postgres.parameters },
        { name: expected.name, instances: expected.instances, ports: expected.ports, parameters: expected.parameters },
      );
    });
  }
});
