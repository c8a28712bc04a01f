// Client of pgbouncer's admin console (database "pgbouncer"): PAUSE, RESUME, RELOAD, KILL and the SHOW lists we read.
import pg from 'pg';
import { PgpilotError, errorMessage } from '../base/errors.js';

export interface AdminConnection {
  /** The pooler's listen address, or its unix socket directory. */
  host: string;
  port: number;
  /** One of the pooler's admin_users, with its password (the auth_file holds its SCRAM verifier). */
  user: string;
  password: string;
  /** Default 3 s. */
  connectTimeoutMs?: number;
}

/** A row of SHOW DATABASES (the admin console's own "pgbouncer" database left out). */
export interface PoolerDatabase {
  name: string;
  /** Comma-separated when the entry lists several hosts. */
  host: string;
  port: number;
  paused: boolean;
  disabled: boolean;
  currentConnections: number;
}

/** A row of SHOW SERVERS. */
export interface PoolerServer {
  database: string;
  user: string;
  /** active (linked to a client), idle, used, tested, new. */
  state: string;
  addr: string;
  port: number;
  /** RELOAD changed its database's connection string (or RECONNECT ran): it closes when released, never reused. */
  closeNeeded: boolean;
}

/** The console sends text and integer columns (NULL as null). */
type Row = Record<string, string | number | null>;

const DEFAULT_PAUSE_TIMEOUT_MS = 30_000;
/** Each command but PAUSE returns at once; a console that does not answer in this time is stuck. */
const COMMAND_TIMEOUT_MS = 10_000;

/**
 * One short connection per command. The console speaks only the simple query protocol: statements go as text,
 * without parameters, so database names are checked or quoted here.
 */
export class PoolerAdmin {
  constructor(private readonly connection: AdminConnection) {}

  /**
   * PAUSE (all databases, or `db`): returns once every server connection is released, i.e. the transactions in flight
   * (transaction pooling) or the client sessions (session pooling) have ended; new queries wait meanwhile. After
   * `timeoutMs` the pause is undone (RESUME) and a Pooler error is thrown, so clients never stay stalled.
   */
  async pause(db?: string, timeoutMs = DEFAULT_PAUSE_TIMEOUT_MS): Promise<void> {
    try {
      await this.run(db === undefined ? 'PAUSE' : `PAUSE ${word(db)}`, timeoutMs);
    } catch (e) {
      // Closing the console connection does not end a PAUSE in progress in pgbouncer 1.18: undo it explicitly.
      await this.resume(db).catch(() => undefined);
      throw new PgpilotError('Pooler', `could not pause ${what(db)} of the pooler at ${this.address()}: ${errorMessage(e)}`, {
        hint: 'when it timed out, a transaction or session held a server connection (SHOW CLIENTS); the pause was undone',
        cause: e,
      });
    }
  }

  /** RESUME (all databases, or `db`); resuming what is not paused counts as done. */
  async resume(db?: string): Promise<void> {
    try {
      await this.run(db === undefined ? 'RESUME' : `RESUME ${word(db)}`);
    } catch (e) {
      if (/is not paused/.test(errorMessage(e))) return;
      throw this.failed(`resume ${what(db)}`, e);
    }
  }

  /** RELOAD: re-reads pgbouncer.ini and the auth_file. */
  async reload(): Promise<void> {
    await this.run('RELOAD').catch((e: unknown) => { throw this.failed('reload', e); });
  }

  /** KILL db: drops its client and server connections at once; new clients wait until RESUME db. */
  async kill(db: string): Promise<void> {
    await this.run(`KILL ${word(db)}`).catch((e: unknown) => { throw this.failed(`kill ${what(db)}`, e); });
  }

  async databases(): Promise<PoolerDatabase[]> {
    const rows = await this.run('SHOW DATABASES').catch((e: unknown) => { throw this.failed('list the databases', e); });
    return rows.filter((r) => r.name !== 'pgbouncer').map((r) => ({
      name: String(r.name),
      host: String(r.host ?? ''),
      port: Number(r.port),
      paused: Number(r.paused) === 1,
      disabled: Number(r.disabled) === 1,
      currentConnections: Number(r.current_connections),
    }));
  }

  async servers(): Promise<PoolerServer[]> {
    const rows = await this.run('SHOW SERVERS').catch((e: unknown) => { throw this.failed('list the server connections', e); });
    return rows.map((r) => ({
      database: String(r.database),
      user: String(r.user),
      state: String(r.state),
      addr: String(r.addr),
      port: Number(r.port),
      closeNeeded: Number(r.close_needed) === 1,
    }));
  }

  /**
   * Whether `db` is paused, or without `db` whether every database is (false when there is none). pgbouncer 1.18
   * shows per-database pauses only: a global PAUSE does not appear in SHOW DATABASES, so Pooler pauses by database.
   */
  async isPaused(db?: string): Promise<boolean> {
    const dbs = await this.databases();
    if (db !== undefined) return dbs.find((d) => d.name === db)?.paused ?? false;
    return dbs.length > 0 && dbs.every((d) => d.paused);
  }

  private async run(sql: string, timeoutMs = COMMAND_TIMEOUT_MS): Promise<Row[]> {
    const { host, port, user, password } = this.connection;
    const client = new pg.Client({
      host, port, user, password, database: 'pgbouncer',
      connectionTimeoutMillis: this.connection.connectTimeoutMs ?? 3_000,
      query_timeout: timeoutMs,
    });
    client.on('error', () => undefined);
    try {
      await client.connect();
      return (await client.query<Row>(sql)).rows;
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  private address(): string {
    return `${this.connection.host}:${this.connection.port}`;
  }

  private failed(action: string, e: unknown): PgpilotError {
    return new PgpilotError('Pooler', `could not ${action} on the pooler at ${this.address()}: ${errorMessage(e)}`, {
      hint: 'check that pgbouncer runs (its log) and that the admin user and password match its auth_file',
      cause: e,
    });
  }
}

function what(db: string | undefined): string {
  return db === undefined ? 'all databases' : `database ${db}`;
}

/** A database name as a console word: plain, or double-quoted. */
function word(db: string): string {
  if (/^[A-Za-z0-9_]+$/.test(db)) return db;
  if (/[\0\r\n]/.test(db)) throw new PgpilotError('Pooler', `invalid database name ${JSON.stringify(db)}`);
  return `"${db.replaceAll('"', '""')}"`;
}
