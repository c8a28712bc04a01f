// Cloning a replica's data directory from a running member with pg_basebackup (WAL streamed, fast checkpoint).
import fs from 'node:fs/promises';
import path from 'node:path';
import { PgpilotError } from '../base/errors.js';
import type { Logger } from '../base/log.js';
import { ensureDir, type RunAs } from './os-user.js';
import { runProgram } from './program.js';

export interface CloneOptions {
  binDir: string;
  dataDir: string;
  runAs: RunAs;
  host: string;
  port: number;
  user: string;
  /** pgpass file holding the user's password, readable by the run-as user. */
  passFile: string;
  /** An existing physical slot on the source that holds WAL for the clone. */
  slot?: string;
  /** application_name of the connection, the member name. */
  appName: string;
  log: Logger;
  timeoutMs?: number;
}

/**
 * Copies the source into an empty (or missing) `dataDir`. The caller writes the configuration and standby.signal
 * afterwards; a failed clone leaves no data directory behind.
 */
export async function cloneFrom(options: CloneOptions): Promise<void> {
  const { dataDir, runAs, log } = options;
  // Ensure an empty data directory, so that cleaning up after a failure cannot destroy anything.
  await refuseNonEmpty(dataDir);
  await ensureDir(dataDir, 0o700, runAs);
  const args = ['-D', dataDir, '-X', 'stream', '-c', 'fast', '-h', options.host, '-p', String(options.port),
    '-U', options.user, '--no-password', ...(options.slot === undefined ? [] : ['-S', options.slot])];
  log.info('cloning the data directory', { dataDir, from: `${options.host}:${options.port}`, slot: options.slot });
  try {
    await runProgram(path.join(options.binDir, 'pg_basebackup'), args, {
      runAs,
      env: { PGPASSFILE: options.passFile, PGAPPNAME: options.appName },
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    });
  } catch (e) {
    // Clean up the partial copy.
    await fs.rm(dataDir, { recursive: true, force: true });
    throw e;
  }
}

/** A clone only ever writes into an absent or empty directory, so cleaning up after a failure destroys nothing. */
export async function refuseNonEmpty(dataDir: string): Promise<void> {
  const entries = await fs.readdir(dataDir).catch(() => []);
  if (entries.length > 0) {
    throw new PgpilotError('State', `cannot clone into ${dataDir}: the directory is not empty`, {
      hint: 'move the old data directory aside (or remove it) before cloning',
    });
  }
}
