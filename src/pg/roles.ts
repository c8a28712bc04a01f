// Roles and databases, created or brought up to date idempotently; passwords travel as SCRAM verifiers only.
import { createHash, createHmac, pbkdf2, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import pg from 'pg';
import { PgpilotError } from '../base/errors.js';
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

const SCRAM_ITERATIONS = 4096;
const ROLE_OPTION = /^(NO)?(SUPERUSER|CREATEDB|CREATEROLE|INHERIT|LOGIN|REPLICATION|BYPASSRLS)$|^CONNECTION LIMIT -?\d+$/;
const pbkdf2Async = promisify(pbkdf2);

/**
 * A SCRAM-SHA-256 verifier as PostgreSQL stores it. Sending this instead of the password keeps the password out of
 * pg_stat_activity, pg_stat_statements and the server log.
 */
export async function scramVerifier(password: string, salt: Buffer = randomBytes(16)): Promise<string> {
  const salted = await pbkdf2Async(saslprep(password), salt, SCRAM_ITERATIONS, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest('base64');
  const serverKey = createHmac('sha256', salted).update('Server Key').digest('base64');
  return `SCRAM-SHA-256$${SCRAM_ITERATIONS}:${salt.toString('base64')}$${storedKey}:${serverKey}`;
}

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

/** The SASLprep steps that change bytes (as the pg client applies them): odd spaces, invisible characters, NFKC. */
function saslprep(password: string): string {
  return password
    .replace(/[\u00A0\u1680\u2000-\u200B\u202F\u205F\u3000]/g, ' ')
    .replace(/[\u00AD\u034F\u1806\u180B\u180C\u180D\u200C\u200D\u2060\uFE00-\uFE0F\uFEFF]/g, '')
    .normalize('NFKC');
}
