// SQL connections to PostgreSQL (the pg package) with short timeouts, and queries whose failures name what they did.
import pg from 'pg';
import { PgpilotError, errorMessage } from '../base/errors.js';

export type PgClient = pg.Client;

export interface ConnectOptions {
  host: string;
  port: number;
  user: string;
  password?: string;
  database: string;
  /** Default 3 s. */
  connectTimeoutMs?: number;
  /** Server-side statement_timeout; the client gives up 2 s later. Default 10 s. */
  statementTimeoutMs?: number;
  applicationName?: string;
}

const CLIENT_GRACE_MS = 2_000;

/** A connected client. A connection lost while idle surfaces on the next query instead of crashing the process. */
export async function connect(options: ConnectOptions): Promise<PgClient> {
  const statementTimeoutMs = options.statementTimeoutMs ?? 10_000;
  const client = new pg.Client({
    host: options.host,
    port: options.port,
    user: options.user,
    database: options.database,
    ...(options.password === undefined ? {} : { password: options.password }),
    connectionTimeoutMillis: options.connectTimeoutMs ?? 3_000,
    statement_timeout: statementTimeoutMs,
    query_timeout: statementTimeoutMs + CLIENT_GRACE_MS,
    application_name: options.applicationName ?? 'pgpilot',
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (e) {
    throw new PgpilotError('Postgres',
      `could not connect to PostgreSQL at ${options.host}:${options.port} as ${options.user}: ${errorMessage(e)}`, {
        hint: 'check that PostgreSQL runs, listens on that address and that the password file is right',
        cause: e,
      });
  }
  return client;
}

/** Runs one statement; a failure becomes a Postgres error saying `what` was attempted (never the SQL text). */
export async function queryRows<T extends pg.QueryResultRow>(
  client: PgClient, what: string, sql: string, params: unknown[] = [],
): Promise<T[]> {
  try {
    return (await client.query<T>(sql, params)).rows;
  } catch (e) {
    throw new PgpilotError('Postgres', `could not ${what}: ${errorMessage(e)}`, {
      hint: 'check the PostgreSQL log of this member',
      cause: e,
    });
  }
}

/** Makes PostgreSQL re-read its configuration files. */
export async function reload(client: PgClient): Promise<void> {
  await queryRows(client, 'reload the configuration', 'SELECT pg_reload_conf()');
}
