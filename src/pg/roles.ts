// Roles and databases, created or brought up to date idempotently; passwords travel as SCRAM verifiers only.
import pg from 'pg';
import { PgpilotError } from '../base/errors.js';
import { scramVerifier } from '../model/scram.js';
import { readSecret } from './os-user.js';
import { queryRows, type PgClient } from './query.js';

export type RoleSpec = {
  name: string;
  /** Role attributes such as CREATEDB; LOGIN is always given. */
  options: string[];
  /** Adds REPLICATION. */
  replication?: boolean;
} & ({ password: string } | { passwordFile: string });

export interface DatabaseOptions {
  name: string;
  owner: string;
}

const ROLE_OPTION = /^(NO)?(SUPERUSER|CREATEDB|CREATEROLE|INHERIT|LOGIN|REPLICATION|BYPASSRLS)$|^CONNECTION LIMIT -?\d+$/;

/** The role attribute clause: LOGIN, REPLICATION when asked, then the validated options. */
export function roleAttributes(spec: Pick<RoleSpec, 'name' | 'options' | 'replication'>): string {
  const options = spec.options.map((o) => o.trim().toUpperCase().replace(/\s+/g, ' '));
  const bad = options.find((o) => !ROLE_OPTION.test(o));
  if (bad !== undefined) {
    throw new PgpilotError('Config', `role "${spec.name}" has an unknown option "${bad}"`, {
      hint: 'use role attributes such as CREATEDB, CREATEROLE, NOINHERIT or CONNECTION LIMIT 10',
    });
  }
  return ['LOGIN', ...(spec.replication === true ? ['REPLICATION'] : []), ...options].join(' ');
}

/** Creates the role, or sets its attributes and password if it exists. */
export async function ensureRole(client: PgClient, spec: RoleSpec): Promise<'created' | 'updated'> {
  const attributes = roleAttributes(spec);
  const password = 'password' in spec ? spec.password : await readSecret(spec.passwordFile);
  const exists = await queryRows(client, `look up role ${spec.name}`, 'SELECT 1 FROM pg_roles WHERE rolname = $1', [spec.name]);
  const verb = exists.length > 0 ? 'ALTER' : 'CREATE';
  // DDL takes no bound parameters: the statement carries an escaped literal, and it is never logged.
  const sql = `${verb} ROLE ${pg.escapeIdentifier(spec.name)} WITH ${attributes} PASSWORD ${pg.escapeLiteral(await scramVerifier(password))}`;
  await queryRows(client, `${verb.toLowerCase()} role ${spec.name}`, sql);
  return verb === 'ALTER' ? 'updated' : 'created';
}

/** Creates the database owned by `owner`, or hands an existing one to `owner`. */
export async function ensureDatabase(client: PgClient, options: DatabaseOptions): Promise<'created' | 'exists'> {
  const name = pg.escapeIdentifier(options.name);
  const owner = pg.escapeIdentifier(options.owner);
  const rows = await queryRows<{ owner: string }>(client, `look up database ${options.name}`,
    'SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = $1', [options.name]);
  const current = rows[0]?.owner;
  if (current === undefined) {
    // CREATE DATABASE cannot run in a transaction block: it goes alone, outside any.
    await queryRows(client, `create database ${options.name}`, `CREATE DATABASE ${name} OWNER ${owner}`);
    return 'created';
  }
  if (current !== options.owner) {
    await queryRows(client, `change the owner of database ${options.name}`, `ALTER DATABASE ${name} OWNER TO ${owner}`);
  }
  return 'exists';
}

