// The cluster manifest (kind PostgresCluster): its schema, its rules across fields, and loading it from YAML.
import { documentKind, loadDocument, parseDocument, type DocumentKind } from './document.js';
import {
  array,
  boolean,
  enumOf,
  got,
  integer,
  literal,
  map,
  number,
  object,
  schemaFor,
  string,
  union,
  childPath,
  type Derive,
  type Issue,
  type Rule,
  type StringNode,
  type NumberNode,
} from './schema.js';
import { backupRule, backupSchema } from './backup-schema.js';
import type { BackupSpec, ClusterSpec, DatabaseSpec, HaSpec, Manifest, ParameterValue, UserSpec } from './types.js';

const highestPort = 65535;

/** A DNS label of at most `max` characters: cluster and member names. */
export function dnsLabel(max: number, description: string): StringNode {
  const doc = `lowercase letters, digits and dashes, at most ${max} characters`;
  return string({ description, pattern: { regex: /[a-z0-9]([-a-z0-9]*[a-z0-9])?/, doc }, maxLength: max });
}

/** A TCP port pgpilot may bind without privileges. */
export function port(opts: { description: string; default?: number }): NumberNode {
  return integer({ min: 1024, max: highestPort, ...opts });
}

/** An address to listen on. */
export function listenAddress(description: string): StringNode {
  const doc = 'one host name or address, 0.0.0.0 or * for all';
  return string({ description, default: '127.0.0.1', pattern: { regex: /[^\s,]+/, doc, terse: true } });
}

/** An absolute file or directory path. */
export function absolutePath(opts: { description: string; default?: string; derive?: Derive }): StringNode {
  return string({ ...opts, pattern: { regex: /\/.*/, doc: 'an absolute path', terse: true } });
}

function identifier(description: string): StringNode {
  const doc = 'lowercase letters, digits and underscores, not starting with a digit, at most 63 characters';
  return string({ description, pattern: { regex: /[a-z_][a-z0-9_]*/, doc }, maxLength: 63 });
}

/** Parameters pgpilot writes itself, each with the field to use instead where there is one. */
const managedParameters: Readonly<Record<string, string | undefined>> = {
  port: 'postgres.port',
  listen_addresses: 'postgres.listen',
  hba_file: undefined,
  data_directory: undefined,
  primary_conninfo: undefined,
  primary_slot_name: undefined,
  unix_socket_directories: undefined,
  archive_command: undefined,
  restore_command: undefined,
};

export const parametersSchema = map(union([string(), number(), boolean()]), {
  default: {},
  keyPattern: {
    regex: /[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?/,
    doc: 'a parameter name such as shared_buffers or auto_explain.log_min_duration',
    terse: true,
  },
  description:
    'postgresql.conf settings, e.g. `shared_buffers: 128MB`. pgpilot sets these itself, so they are refused here: ' +
    `${Object.keys(managedParameters).join(', ')}.`,
});

export const userFields = {
  name: identifier('Role name.'),
  options: array(
    string({
      pattern: {
        regex: /(NO)?(SUPERUSER|CREATEDB|CREATEROLE|INHERIT|REPLICATION|BYPASSRLS)/,
        doc: 'SUPERUSER, CREATEDB, CREATEROLE, INHERIT, REPLICATION or BYPASSRLS, each optionally prefixed with NO',
        terse: true,
      },
    }),
    { default: [], description: 'Extra role attributes, e.g. CREATEDB (LOGIN is always given).' },
  ),
};

export const databaseSchema = object(
  { name: identifier('Database name.'), owner: identifier('A role from the users list.') },
  { description: 'A database created at bootstrap.' },
);

export const haSchema = object(
  {
    ttl: integer({
      min: 2,
      default: 3,
      description: 'Leader lease time-to-live, seconds: how long a dead primary keeps the lock before a failover.',
    }),
    loopWait: integer({ min: 1, default: 1, description: 'Seconds between two agent loops.' }),
    retryTimeout: integer({
      min: 1,
      default: 1,
      description: 'Seconds the agent retries DCS and PostgreSQL operations before giving up on a loop.',
    }),
    maximumLagOnFailover: integer({
      min: 0,
      default: 1048576,
      description: 'A replica further behind than this (bytes) is not promoted.',
    }),
    replicaMethods: array(enumOf(['backup', 'basebackup']), {
      default: ['basebackup'],
      minItems: 1,
      description:
        'How a new or recloned replica gets its data directory, tried in order: backup (the newest backup of the first ' +
        'repository and the archived WAL, then streaming from the leader), basebackup (pg_basebackup from the leader). ' +
        '`[backup, basebackup]` is Spilo\'s choice: the leader then only streams the WAL written since the archive ends. ' +
        'Set when a member is added: `apply` cannot change it on a running cluster.',
    }),
  },
  { description: "Failover timing (Patroni's dynamic settings, written to the DCS config key at bootstrap) and how replicas are created." },
);

export const synchronousSchema = object(
  {
    mode: enumOf(['off', 'on', 'quorum'], {
      default: 'off',
      description: 'off: asynchronous replication; on: commits wait for `number` named standbys (FIRST); quorum: for any `number` of them (ANY).',
    }),
    number: integer({ min: 1, max: 8, default: 1, description: 'How many standbys acknowledge each commit.' }),
    strict: boolean({
      default: false,
      description: 'When no standby can be synchronous, block commits instead of continuing asynchronously.',
    }),
  },
  { description: 'Synchronous replication: a failover then promotes only a member known to hold every acknowledged commit.' },
);

export const endpointSchema = string({
  pattern: {
    regex: /http:\/\/(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?\/?/,
    doc: 'an http URL such as http://10.0.0.1:2379 (TLS to etcd is not supported yet)',
    terse: true,
  },
});

export const namespaceSchema = string({
  default: '/service',
  pattern: { regex: /(\/[-A-Za-z0-9_.]+)+/, doc: 'a key prefix starting with /, such as /service', terse: true },
  description: "DCS key prefix; Patroni's default is /service.",
});

export const manifestSchema = schemaFor<Manifest>()(
  object({
    apiVersion: literal('pgpilot.dev/v1', { description: 'Version of the manifest format.' }),
    kind: literal('PostgresCluster', { description: 'What the manifest describes.' }),
    metadata: object(
      { name: dnsLabel(40, 'Cluster name: the DCS scope and the prefix of member names.') },
      { description: 'Identity of the cluster.' },
    ),
    spec: object(
      {
        instances: integer({
          min: 1,
          max: 9,
          default: 1,
          description: 'Number of members (one primary, the rest replicas).',
        }),
        postgres: object(
          {
            listen: listenAddress('Address PostgreSQL listens on.'),
            port: port({ default: 5432, description: 'Port of the first member; member i uses port + i.' }),
            parameters: parametersSchema,
          },
          { description: 'PostgreSQL of every member.' },
        ),
        api: object(
          {
            listen: listenAddress('Address the REST API listens on.'),
            port: port({ default: 8008, description: "Port of the first member's REST API; member i uses port + i." }),
          },
          { description: 'REST API of every member agent.' },
        ),
        users: array(object(userFields, { description: 'A login role created at bootstrap.' }), {
          default: [{ name: 'app', options: [] }],
          description: 'Login roles created at bootstrap.',
        }),
        databases: array(databaseSchema, {
          default: [{ name: 'app', owner: 'app' }],
          description: 'Databases created at bootstrap.',
        }),
        dcs: object(
          {
            endpoints: array(endpointSchema, {
              default: [],
              description: 'External etcd client URLs; empty means the local runner starts a private etcd.',
            }),
            namespace: namespaceSchema,
          },
          { description: 'The distributed configuration store (etcd v3).' },
        ),
        ha: haSchema,
        synchronous: synchronousSchema,
        pooler: object(
          {
            enabled: boolean({ default: false, description: 'Run pgbouncer in front of the cluster (local runner).' }),
            port: port({ default: 6432, description: 'Read-write endpoint (always the primary); the read-only endpoint over replicas is port + 1.' }),
            mode: enumOf(['session', 'transaction'], { default: 'transaction', description: "pgbouncer's pool_mode." }),
          },
          { description: 'Client routing through pgbouncer: a read-write and a read-only endpoint.' },
        ),
        backup: backupSchema,
        local: object(
          {
            restart: enumOf(['always', 'never'], {
              default: 'always',
              description: 'Whether the local runner restarts a member process that exits.',
            }),
          },
          { description: 'Settings of the local runner (`pgpilot up`).' },
        ),
      },
      { description: 'The desired cluster.' },
    ),
  }),
);

interface Roles {
  users: UserSpec[];
  databases: DatabaseSpec[];
}

/** User and database names are unique, user names are not reserved, and every owner is a listed user. */
export function rolesRule<T>(at: string, get: (value: T) => Roles): Rule<T> {
  return {
    doc:
      `Names in ${at}.users and in ${at}.databases are unique; user names do not start with pg_ and are not ` +
      `${[...pgpilotRoles].join(' or ')} (pgpilot's own roles); ` +
      `every database owner is one of ${at}.users.`,
    check: (value) => roleIssues(get(value), at),
  };
}

/** Roles pgpilot creates itself: the superuser and the replication role. */
const pgpilotRoles = new Set(['postgres', 'replicator']);

function reservedRoleIssue(name: string, path: string): Issue[] {
  if (name.startsWith('pg_')) return [got(path, 'must not start with pg_ (PostgreSQL reserves those role names)', name)];
  if (pgpilotRoles.has(name)) return [got(path, 'is a role pgpilot manages itself (the superuser or the replication role)', name)];
  return [];
}

function roleIssues({ users, databases }: Roles, at: string): Issue[] {
  const reserved = users.flatMap((u, i) => reservedRoleIssue(u.name, `${at}.users[${i}].name`));
  const orphans = databases.flatMap((d, i) =>
    users.some((u) => u.name === d.owner)
      ? []
      : [{ path: `${at}.databases[${i}].owner`, problem: `role ${JSON.stringify(d.owner)} is not in ${at}.users` }],
  );
  return [
    ...duplicateNames(users, `${at}.users`, 'user'),
    ...duplicateNames(databases, `${at}.databases`, 'database'),
    ...reserved,
    ...orphans,
  ];
}

function duplicateNames(items: readonly { name: string }[], at: string, what: string): Issue[] {
  return items.flatMap((item, i) => {
    const first = items.findIndex((other) => other.name === item.name);
    if (first === i) return [];
    const problem = `duplicate ${what} ${JSON.stringify(item.name)} (see ${at}[${first}])`;
    return [{ path: `${at}[${i}].name`, problem }];
  });
}

/** Patroni's timing rule: the leader gets to renew its lease before the lease runs out. */
export function haRule<T>(at: string, get: (value: T) => HaSpec): Rule<T> {
  return {
    doc: `${at}.loopWait + ${at}.retryTimeout is less than ${at}.ttl (Patroni's rule).`,
    check: (value) => haIssues(get(value), at),
  };
}

function haIssues(ha: HaSpec, at: string): Issue[] {
  const needed = ha.loopWait + ha.retryTimeout;
  if (ha.ttl > needed) return [];
  const sum = `loopWait + retryTimeout = ${ha.loopWait} + ${ha.retryTimeout} = ${needed}`;
  const why = "(Patroni's rule: the leader must renew its lease before it expires)";
  return [got(`${at}.ttl`, `must be greater than ${sum} ${why}`, ha.ttl)];
}

/** Replica methods are listed once each, and `backup` needs a repository to restore from. */
export function replicaMethodsRule<T>(ha: string, backup: string, get: (value: T) => { ha: HaSpec; backup: BackupSpec }): Rule<T> {
  return {
    doc: `${ha}.replicaMethods names each method once; backup needs at least one repository in ${backup}.repos.`,
    check: (value) => replicaMethodIssues(get(value), ha, backup),
  };
}

function replicaMethodIssues({ ha, backup }: { ha: HaSpec; backup: BackupSpec }, haAt: string, backupAt: string): Issue[] {
  const at = `${haAt}.replicaMethods`;
  const methods = ha.replicaMethods;
  const duplicates = methods.flatMap((m, i) => {
    const first = methods.indexOf(m);
    return first === i ? [] : [got(`${at}[${i}]`, `is listed twice (see ${at}[${first}])`, m)];
  });
  const i = methods.indexOf('backup');
  const noRepo = i >= 0 && backup.repos.length === 0 ? [got(`${at}[${i}]`, `needs a repository in ${backupAt}.repos to restore from`, 'backup')] : [];
  return [...duplicates, ...noRepo];
}

/** Parameters pgpilot manages are refused, so a manifest never fights the agent. */
export function parametersRule<T>(at: string, get: (value: T) => Record<string, ParameterValue>): Rule<T> {
  return {
    doc: `${at} does not set a parameter pgpilot sets itself (${Object.keys(managedParameters).join(', ')}).`,
    check: (value) => parameterIssues(get(value), at),
  };
}

function parameterIssues(parameters: Record<string, ParameterValue>, at: string): Issue[] {
  return Object.keys(parameters).flatMap((name) => {
    const key = name.toLowerCase();
    if (!(key in managedParameters)) return [];
    const instead = managedParameters[key];
    const advice = instead === undefined ? 'remove it' : `remove it and set ${instead} instead`;
    return [{ path: childPath(at, name), problem: `pgpilot sets ${JSON.stringify(key)} itself, ${advice}` }];
  });
}

/** Member i uses port + i: both ranges must end by 65535 and must not overlap. */
function portIssues(spec: ClusterSpec): Issue[] {
  const postgres = portRange(spec.postgres.port, spec.instances);
  const api = portRange(spec.api.port, spec.instances);
  const overflow = [
    { range: postgres, path: 'spec.postgres.port' },
    { range: api, path: 'spec.api.port' },
  ].flatMap(({ range, path }) => {
    if (range.last <= highestPort) return [];
    const problem = `with ${spec.instances} instances members use ports ${range.text}, past ${highestPort}`;
    return [got(path, problem, range.first)];
  });
  if (postgres.first > api.last || api.first > postgres.last) return overflow;
  const overlap = `API ports ${api.text} overlap PostgreSQL ports ${postgres.text} (spec.postgres.port)`;
  return [...overflow, got('spec.api.port', overlap, api.first)];
}

function portRange(first: number, instances: number): { first: number; last: number; text: string } {
  const last = first + instances - 1;
  return { first, last, text: last === first ? String(first) : `${first}-${last}` };
}

export const manifestRules: readonly Rule<Manifest>[] = [
  rolesRule('spec', (m: Manifest) => m.spec),
  haRule('spec.ha', (m: Manifest) => m.spec.ha),
  replicaMethodsRule('spec.ha', 'spec.backup', (m: Manifest) => m.spec),
  parametersRule('spec.postgres.parameters', (m: Manifest) => m.spec.postgres.parameters),
  backupRule('spec.backup', (m: Manifest) => m.spec.backup),
  {
    doc:
      'PostgreSQL ports (spec.postgres.port + i) and API ports (spec.api.port + i) stay at most 65535 ' +
      'and do not overlap.',
    check: (m) => portIssues(m.spec),
  },
];

export const manifestDocument: DocumentKind<Manifest> = documentKind({
  name: 'manifest',
  schema: manifestSchema,
  rules: manifestRules,
  hint: 'see docs/manifest.md for every field, its type and its default',
});

/** Parses and validates a manifest; `source` names it in errors. Throws one Config error listing every problem. */
export function parseManifest(text: string, source: string): Manifest {
  return parseDocument(manifestDocument, text, source);
}

export function loadManifest(file: string): Promise<Manifest> {
  return loadDocument(manifestDocument, file);
}
