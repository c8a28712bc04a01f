// Restores one database of a logical dump with pg_restore, streamed and checked; and reads a dump's globals SQL.
import { createHash } from 'node:crypto';
import { Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { PgpilotError, errorMessage } from '../base/errors.js';
import type { Logger } from '../base/log.js';
import type { RunAs } from '../pg/os-user.js';
import { decodeBuffer, decoder } from './codec/codec.js';
import { type DumpManifest, type DumpObject, requireDumpManifest } from './logical-catalog.js';
import { type DumpConn, conninfo, psqlRows, startTool } from './logical-dump.js';
import { codecFor, type Repo } from './repo.js';

export interface RestoreDumpOptions {
  repo: Repo;
  label: string;
  /** The database as named in the dump. */
  database: string;
  /** The database to restore into; created from template0 (owned by the connecting user) when missing. */
  target: string;
  conn: DumpConn;
  runAs?: RunAs;
  /** Drop the dump's objects in the target before recreating them (pg_restore --clean --if-exists). */
  clean?: boolean;
  /** Skip ownership and privileges (pg_restore --no-owner --no-privileges): for a cluster without the dump's roles. */
  noOwner?: boolean;
  log: Logger;
}

/**
 * Restores `database` of dump `label` into `target` in one transaction: storage -> decoder -> size and sha256 check ->
 * pg_restore's standard input. The last chunk is held back until the check passes, so pg_restore never commits
 * damaged data; on failure a target database this call created is dropped again.
 */
export async function restoreDump(opts: RestoreDumpOptions): Promise<void> {
  const { repo, conn, target } = opts;
  const log = opts.log.child({ repo: repo.name, label: opts.label, database: opts.database, target });
  // Find the database in the dump's manifest.
  const manifest = await requireDumpManifest(repo, opts.label);
  const entry = manifest.databases.find((d) => d.name === opts.database);
  if (entry === undefined) {
    throw new PgpilotError('NotFound', `logical dump ${opts.label} in repository ${repo.name} holds no database ${opts.database}`, {
      hint: `it holds: ${manifest.databases.map((d) => d.name).join(', ') || '(no database)'}`,
    });
  }
  // Ensure the target database exists.
  const created = await ensureDatabase(opts);
  log.info('logical restore started', { created, size: entry.size });
  try {
    // Stream the dump into pg_restore.
    await streamRestore(opts, manifest, entry);
  } catch (e) {
    // Clean up: drop a database this restore created, so a retry starts from scratch.
    if (created) {
      await psqlRows(conn, opts.runAs, 'postgres', `drop database ${target}`, 'DROP DATABASE IF EXISTS :"target"', { target })
        .catch((r: unknown) => log.warn('could not drop the database of the failed restore', { error: errorMessage(r) }));
    }
    log.error('logical restore failed', { error: errorMessage(e) });
    throw e;
  }
  log.info('logical restore complete');
}

/** Creates the target database unless it exists; true when it was created. */
async function ensureDatabase(opts: RestoreDumpOptions): Promise<boolean> {
  const vars = { target: opts.target };
  const found = await psqlRows(opts.conn, opts.runAs, 'postgres', `look up database ${opts.target}`,
    "SELECT 1 FROM pg_database WHERE datname = :'target'", vars);
  if (found.length > 0) return false;
  await psqlRows(opts.conn, opts.runAs, 'postgres', `create database ${opts.target}`, 'CREATE DATABASE :"target" TEMPLATE template0', vars);
  return true;
}

async function streamRestore(opts: RestoreDumpOptions, manifest: DumpManifest, entry: DumpObject): Promise<void> {
  const args = ['-w', '--single-transaction', '-d', conninfo(opts.conn, opts.target)];
  if (opts.clean === true) args.push('--clean', '--if-exists');
  if (opts.noOwner === true) args.push('--no-owner', '--no-privileges');
  const what = `database ${opts.database} of dump ${manifest.label} into ${opts.target}`;
  const where = `${opts.repo.storage.location}/${entry.object}`;
  const tool = startTool(opts.conn, opts.runAs, 'pg_restore', args, 'pipe');
  try {
    const source = await opts.repo.storage.read(entry.object);
    const codec = codecFor(manifest.compress.type, manifest.compress.level, opts.repo.key);
    await pipeline(source, decoder(codec), verified(entry, where), tool.child.stdin as Writable);
  } catch (e) {
    const killed = await tool.stop();
    throw (killed ? undefined : await tool.failure(what)) ?? e;
  }
  const failure = await tool.failure(what);
  if (failure !== undefined) throw failure;
}

/** Passes the bytes on, checking size and sha256; the last chunk is only released once both match. */
function verified(expected: DumpObject, where: string): Transform {
  const hash = createHash('sha256');
  let size = 0;
  let held: Buffer | undefined;
  return new Transform({
    transform(chunk: Buffer, _enc, cb): void {
      hash.update(chunk);
      size += chunk.length;
      const previous = held;
      held = chunk;
      cb(null, previous);
    },
    flush(cb): void {
      cb(checkContent(expected, size, hash.digest('hex'), where) ?? null, held);
    },
  });
}

function checkContent(expected: DumpObject, size: number, sha256: string, where: string): PgpilotError | undefined {
  if (size === expected.size && sha256 === expected.sha256) return undefined;
  return new PgpilotError('Corrupt', `${where} does not match its manifest (${size} bytes, sha256 ${sha256}; expected ${expected.size} bytes, ${expected.sha256})`, {
    hint: 'the stored dump is damaged; restore from another dump',
  });
}

/** The SQL of a dump's globals (roles, memberships, tablespaces), checked against the manifest: to read or run by hand. */
export async function readDumpGlobals(repo: Repo, label: string): Promise<string> {
  const manifest = await requireDumpManifest(repo, label);
  const where = `${repo.storage.location}/${manifest.globals.object}`;
  const codec = codecFor(manifest.compress.type, manifest.compress.level, repo.key);
  const plain = await decodeBuffer(codec, await repo.storage.readBuffer(manifest.globals.object), where);
  const problem = checkContent(manifest.globals, plain.length, createHash('sha256').update(plain).digest('hex'), where);
  if (problem !== undefined) throw problem;
  return plain.toString('utf8');
}
