// Takes a logical dump into a repository: pg_dumpall --globals-only, then pg_dump -Fc per database, then the manifest.
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { type Readable, Transform, pipeline } from 'node:stream';
import { PgpilotError, errorMessage } from '../base/errors.js';
import type { Logger } from '../base/log.js';
import type { RunAs } from '../pg/os-user.js';
import { credentials, programEnv, runProgram, tailLines } from '../pg/program.js';
import { encoder } from './codec/codec.js';
import {
  type CompleteDump, type DumpDatabase, type DumpManifest, type DumpObject, DUMP_FORMAT, databaseObject, dumpDir, dumpLabel,
  globalsObject, writeDumpManifest,
} from './logical-catalog.js';
import { type Repo, repoExtension } from './repo.js';

export const DEFAULT_BIN_DIR = '/usr/lib/postgresql/15/bin';
const QUERY_TIMEOUT_MS = 30_000;
const STDERR_KEEP = 16 * 1024;

/** How PostgreSQL's client programs connect: the password comes from `passFile` (libpq's PGPASSFILE), never arguments. */
export interface DumpConn {
  host: string;
  port: number;
  user: string;
  /** A .pgpass-style file (mode 0600) with the user's password for host:port. */
  passFile: string;
  /** Default /usr/lib/postgresql/15/bin. */
  binDir?: string;
}

export interface TakeDumpOptions {
  repo: Repo;
  conn: DumpConn;
  /** Databases to dump; empty: every database that accepts connections, except templates. */
  databases: string[];
  /** Run the client programs as this user (only switched to when we are root); omitted: as ourselves. */
  runAs?: RunAs;
  log: Logger;
  now?: () => Date;
}

/** A libpq connection string for `database`; values are quoted, so any database name is safe. */
export function conninfo(conn: DumpConn, database: string): string {
  const q = (v: string | number): string => `'${String(v).replace(/[\\']/g, (c) => `\\${c}`)}'`;
  return `host=${q(conn.host)} port=${q(conn.port)} user=${q(conn.user)} dbname=${q(database)}`;
}

export function toolPath(conn: DumpConn, tool: string): string {
  return path.join(conn.binDir ?? DEFAULT_BIN_DIR, tool);
}

/** The environment of a client program: no inherited PG* variables, the password file, English messages. */
export function toolEnv(conn: DumpConn, runAs: RunAs | undefined): Record<string, string> {
  return programEnv(runAs, { PGPASSFILE: conn.passFile, PGCONNECT_TIMEOUT: '10', LC_MESSAGES: 'C' });
}

/**
 * Runs SQL (given on standard input, so psql `:'var'` interpolation of `vars` works) with psql in `database`; returns
 * the first column of each row. A failure is a Backup error that says what was attempted.
 */
export async function psqlRows(
  conn: DumpConn, runAs: RunAs | undefined, database: string, what: string, sql: string, vars: Record<string, string> = {},
): Promise<string[]> {
  const args = ['-X', '-q', '-w', '-A', '-t', '--record-separator-zero', '-v', 'ON_ERROR_STOP=1', '-d', conninfo(conn, database)];
  for (const [name, value] of Object.entries(vars)) args.push('-v', `${name}=${value}`);
  try {
    const { stdout } = await runProgram(toolPath(conn, 'psql'), args, {
      ...(runAs === undefined ? {} : { runAs }), env: toolEnv(conn, runAs), input: sql, timeoutMs: QUERY_TIMEOUT_MS,
    });
    return stdout.split('\0').filter((row) => row !== '' && row !== '\n');
  } catch (e) {
    throw new PgpilotError('Backup', `could not ${what} on ${conn.host}:${conn.port}: ${errorMessage(e)}`, {
      hint: 'check that PostgreSQL runs there and that the password file has a line for this host, port and user',
      cause: e,
    });
  }
}

/** A client program writing to or reading from a pipe; `exited` settles once it is gone (or failed to start). */
export interface Tool {
  child: ChildProcess;
  name: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>;
  /** The failure as a Backup error, or undefined when the program exited 0. */
  failure(what: string): Promise<PgpilotError | undefined>;
  /** Kills the program when still running and waits for it; true when it had to be killed. */
  stop(): Promise<boolean>;
}

export function startTool(
  conn: DumpConn, runAs: RunAs | undefined, tool: string, args: string[], stdin: 'pipe' | 'ignore',
): Tool {
  const child = spawn(toolPath(conn, tool), args, {
    cwd: '/', env: toolEnv(conn, runAs), stdio: [stdin, 'pipe', 'pipe'], ...credentials(runAs),
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-STDERR_KEEP)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
    child.once('error', (error) => resolve({ code: null, signal: null, error }));
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  return {
    child,
    name: tool,
    exited,
    async failure(what) {
      const r = await exited;
      if (r.error !== undefined) {
        return new PgpilotError('Program', `could not run ${toolPath(conn, tool)}: ${r.error.message}`, {
          hint: 'check that PostgreSQL 15 client programs are installed and the bin directory is right',
          cause: r.error,
        });
      }
      if (r.code === 0) return undefined;
      return new PgpilotError('Backup', `${tool} of ${what} failed (${r.signal ?? `exit code ${r.code}`}): ${tailLines(stderr, 10) || '(no error output)'}`, {
        hint: `see the ${tool} messages above; the server log of ${conn.host}:${conn.port} may say more`,
      });
    },
    async stop() {
      const killed = child.exitCode === null && child.signalCode === null && child.kill('SIGTERM');
      await exited;
      return killed;
    },
  };
}

/** Takes a logical dump of `databases` (all when empty) into the repository; a failure leaves nothing behind. */
export async function takeDump(opts: TakeDumpOptions): Promise<CompleteDump> {
  const { repo, conn, log } = opts;
  const now = opts.now ?? ((): Date => new Date());
  const startTime = now();
  const label = dumpLabel(startTime);
  const ext = repoExtension(repo);
  const dlog = log.child({ repo: repo.name, label });

  // Ensure the label is free: two dumps in one second would share a directory.
  if ((await repo.storage.list(dumpDir(label))).length > 0) {
    throw new PgpilotError('State', `repository ${repo.name} already holds a logical dump labelled ${label}`, {
      hint: 'wait a second and take the dump again',
    });
  }
  // Ask the server its version and which databases there are, before anything is written.
  const pgVersion = Number((await psqlRows(conn, opts.runAs, 'postgres', 'read the server version', 'SHOW server_version_num'))[0]);
  const databases = await chooseDatabases(opts);
  dlog.info('logical dump started', { databases });

  try {
    // Dump the globals: roles (with their password hashes), memberships, tablespaces.
    const globals = await dumpStream(opts, globalsObject(label, ext), 'globals', 'pg_dumpall', ['--globals-only', '-w', '-d', conninfo(conn, 'postgres')]);
    // Dump each database in pg_dump's custom format, uncompressed: the repository's codec compresses it.
    const dumped: DumpDatabase[] = [];
    for (const name of databases) {
      const object = databaseObject(label, name, ext);
      const args = ['-Fc', '-Z', '0', '-w', '-d', conninfo(conn, name)];
      dumped.push({ name, ...(await dumpStream(opts, object, `database ${name}`, 'pg_dump', args)) });
      dlog.info('database dumped', { database: name, size: dumped.at(-1)?.size, storedSize: dumped.at(-1)?.storedSize });
    }
    // Write the manifest last: only now does the dump count as complete.
    const manifest: DumpManifest = {
      format: DUMP_FORMAT, label, startTime: startTime.toISOString(), stopTime: now().toISOString(), pgVersion,
      compress: repo.codec.compress, encrypted: repo.key !== undefined, globals, databases: dumped, status: 'complete',
    };
    await writeDumpManifest(repo, manifest);
    const storedSize = globals.storedSize + dumped.reduce((n, d) => n + d.storedSize, 0);
    dlog.info('logical dump complete', { storedSize });
    return { status: 'complete', label, storedSize, manifest };
  } catch (e) {
    // Clean up: remove what this dump wrote, so no partial dump stays behind.
    await repo.storage.removeTree(dumpDir(label)).catch((r: unknown) => {
      dlog.warn('could not remove the partial logical dump', { error: errorMessage(r) });
    });
    dlog.error('logical dump failed', { error: errorMessage(e) });
    throw e;
  }
}

/** The databases to dump: those asked for (each must exist), or all that accept connections except templates. */
async function chooseDatabases(opts: TakeDumpOptions): Promise<string[]> {
  const all = await psqlRows(opts.conn, opts.runAs, 'postgres', 'list the databases',
    'SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY datname');
  if (opts.databases.length === 0) return all;
  const missing = opts.databases.filter((d) => !all.includes(d));
  if (missing.length > 0) {
    throw new PgpilotError('NotFound', `database ${missing.join(', ')} does not exist on ${opts.conn.host}:${opts.conn.port} or refuses connections`, {
      hint: `databases there: ${all.join(', ')}`,
    });
  }
  return [...new Set(opts.databases)];
}

/**
 * Streams a program's standard output into one stored object: sha256 and size of the plain bytes, then the
 * repository's encoder. The stream only ends once the program exited 0, so a failed program never leaves a complete
 * object; a storage failure stops the program.
 */
async function dumpStream(opts: TakeDumpOptions, object: string, what: string, tool: string, args: string[]): Promise<DumpObject> {
  const run = startTool(opts.conn, opts.runAs, tool, args, 'ignore');
  const hash = createHash('sha256');
  let size = 0;
  let storedSize = 0;
  let toolFailure: PgpilotError | undefined;
  const plain = new Transform({
    transform(chunk: Buffer, _enc, cb): void {
      hash.update(chunk);
      size += chunk.length;
      cb(null, chunk);
    },
    flush(cb): void {
      void run.failure(what).then((f) => {
        toolFailure = f;
        cb(f ?? null);
      });
    },
  });
  const counted = new Transform({
    transform(chunk: Buffer, _enc, cb): void {
      storedSize += chunk.length;
      cb(null, chunk);
    },
  });
  const stdout = run.child.stdout as Readable;
  const stored = pipeline(stdout, plain, encoder(opts.repo.codec), counted, () => undefined);
  try {
    await opts.repo.storage.write(object, stored);
  } catch (e) {
    stored.destroy();
    const killed = await run.stop();
    throw toolFailure ?? (killed ? e : ((await run.failure(what)) ?? e));
  }
  return { object, size, storedSize, sha256: hash.digest('hex') };
}
