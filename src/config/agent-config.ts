// A member agent's config (`pgpilot agent --config FILE`): its schema and rules, loading it (YAML or JSON), writing it.
import path from 'node:path';
import { documentKind, loadDocument, parseDocument, type DocumentKind } from './document.js';
import {
  absolutePath,
  databaseSchema,
  dnsLabel,
  endpointSchema,
  haRule,
  haSchema,
  synchronousSchema,
  listenAddress,
  namespaceSchema,
  parametersRule,
  parametersSchema,
  port,
  replicaMethodsRule,
  rolesRule,
  userFields,
} from './manifest.js';
import { array, boolean, enumOf, got, integer, object, schemaFor, string, type Rule, type StringNode } from './schema.js';
import { backupRule, backupSchema } from './backup-schema.js';
import type { AgentConfig } from './types.js';

const wildcards: readonly string[] = ['0.0.0.0', '::', '*'];

/** The address others use to reach a listener: by default the listen address, which then must not be a wildcard. */
function connectAddress(description: string): StringNode {
  return string({
    description,
    derive: {
      doc: 'same as listen, unless listen is a wildcard (0.0.0.0, ::, *)',
      from: ({ listen }) => (typeof listen === 'string' && !wildcards.includes(listen) ? listen : undefined),
    },
  });
}

export const agentConfigSchema = schemaFor<AgentConfig>()(
  object({
    name: dnsLabel(63, 'Member name, unique in the cluster.'),
    scope: dnsLabel(40, 'Cluster name: the DCS scope.'),
    namespace: namespaceSchema,
    dcs: object(
      { endpoints: array(endpointSchema, { minItems: 1, description: 'etcd client URLs.' }) },
      { description: 'The distributed configuration store (etcd v3).' },
    ),
    postgres: object(
      {
        dataDir: absolutePath({ description: 'Data directory.' }),
        binDir: absolutePath({
          default: '/usr/lib/postgresql/15/bin',
          description: 'Directory of initdb, pg_ctl, postgres, pg_rewind and pg_basebackup.',
        }),
        listen: listenAddress('Address PostgreSQL listens on.'),
        connectAddress: connectAddress('Host other members and clients use to reach this PostgreSQL.'),
        port: port({ description: 'PostgreSQL port.' }),
        socketDir: absolutePath({
          description: 'Directory for the unix socket.',
          derive: {
            doc: "the data directory's parent",
            from: ({ dataDir }) => (typeof dataDir === 'string' ? path.dirname(dataDir) : undefined),
          },
        }),
        logFile: absolutePath({ description: 'File PostgreSQL writes its log to.' }),
        runAs: string({
          default: 'postgres',
          pattern: { regex: /[a-z_][-a-z0-9_]*/, doc: 'an OS user name', terse: true },
          description: 'OS user that runs initdb and postgres when the agent runs as root.',
        }),
        parameters: parametersSchema,
      },
      { description: 'The local PostgreSQL.' },
    ),
    api: object(
      {
        listen: listenAddress('Address the REST API listens on.'),
        connectAddress: connectAddress('Host other members and clients use to reach this REST API.'),
        port: port({ description: 'REST API port.' }),
        tokenFile: absolutePath({ description: 'File holding the bearer token for mutating calls (mode 0600).' }),
      },
      { description: "The member's REST API." },
    ),
    secrets: object(
      {
        superuserPasswordFile: absolutePath({ description: "File holding the superuser's password." }),
        replicationPasswordFile: absolutePath({ description: "File holding the replication role's password." }),
      },
      { description: 'Password files (mode 0600).' },
    ),
    bootstrap: object(
      {
        method: enumOf(['initdb', 'existing', 'none'], {
          default: 'initdb',
          description: 'How this member may initialize a new cluster: initdb; existing (adopt the data directory there, e.g. a restored backup); none (only clone).',
        }),
        users: array(
          object(
            { ...userFields, passwordFile: absolutePath({ description: "File holding the role's password." }) },
            { description: 'A login role created at bootstrap.' },
          ),
          { default: [], description: 'Login roles created at bootstrap.' },
        ),
        databases: array(databaseSchema, { default: [], description: 'Databases created at bootstrap.' }),
      },
      { description: 'What the member that initializes the cluster creates.' },
    ),
    ha: haSchema,
    synchronous: synchronousSchema,
    pooler: object(
      {
        enabled: boolean({ default: false, description: 'Keep the poolers pointed at the cluster when this member leads.' }),
        listen: string({ default: '127.0.0.1', description: 'Address the poolers listen on.' }),
        port: integer({ min: 1024, max: 65534, default: 6432, description: 'Read-write pooler port; read-only is port + 1.' }),
        mode: enumOf(['session', 'transaction'], { default: 'transaction', description: "pgbouncer's pool_mode." }),
        dir: string({ default: '/var/lib/pgpilot/pooler', description: 'Directory with rw/ and ro/, the files of each pgbouncer.' }),
        databases: array(string(), { default: [], description: 'Databases the poolers serve.' }),
      },
      { description: 'Client routing through pgbouncer (run by the local runner on the agents\' host).' },
    ),
    backup: object(
      {
        ...backupSchema.fields,
        spoolDir: absolutePath({ default: '/var/lib/pgpilot/spool', description: "Local directory of the WAL archiver's spool (PostgreSQL's OS user must be able to read it)." }),
      },
      { description: 'Backups and WAL archiving this member takes part in (see the manifest reference, spec.backup).' },
    ),
    tags: object(
      { nofailover: boolean({ default: false, description: 'Never promote this member.' }) },
      { description: 'Member tags, published in the DCS as Patroni does.' },
    ),
  }),
);

export const agentConfigRules: readonly Rule<AgentConfig>[] = [
  rolesRule('bootstrap', (c: AgentConfig) => c.bootstrap),
  haRule('ha', (c: AgentConfig) => c.ha),
  replicaMethodsRule('ha', 'backup', (c: AgentConfig) => c),
  parametersRule('postgres.parameters', (c: AgentConfig) => c.postgres.parameters),
  backupRule('backup', (c: AgentConfig) => c.backup),
  {
    doc: 'postgres.connectAddress and api.connectAddress are addresses others can reach, not wildcards.',
    check: (c) =>
      [
        { at: 'postgres.connectAddress', address: c.postgres.connectAddress },
        { at: 'api.connectAddress', address: c.api.connectAddress },
      ]
        .filter(({ address }) => wildcards.includes(address))
        .map(({ at, address }) => got(at, 'must be an address other members can reach, not a wildcard', address)),
  },
];

export const agentConfigDocument: DocumentKind<AgentConfig> = documentKind({
  name: 'agent config',
  schema: agentConfigSchema,
  rules: agentConfigRules,
  hint: 'see docs/manifest.md, section "Agent config", for every field, its type and its default',
});

/** Parses and validates an agent config; `source` names it in errors. Throws one Config error listing every problem. */
export function parseAgentConfig(text: string, source: string): AgentConfig {
  return parseDocument(agentConfigDocument, text, source);
}

export function loadAgentConfig(file: string): Promise<AgentConfig> {
  return loadDocument(agentConfigDocument, file);
}

/**
 * The config as JSON (which is YAML too) that parseAgentConfig reads back to an equal value: an agent reading JSON
 * never loads the yaml library.
 */
export function renderAgentConfig(config: AgentConfig): string {
  return `${JSON.stringify(config, null, 2)}\n`;
}
