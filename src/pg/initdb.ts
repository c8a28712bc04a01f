// Creating a new PostgreSQL cluster with initdb: checksums on, UTF-8, peer on the socket and scram over TCP.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../base/log.js';
import { ensureDir, readSecret, writeOwnedFile, type RunAs } from './os-user.js';
import { runProgram } from './program.js';

export interface InitdbOptions {
  binDir: string;
  dataDir: string;
  runAs: RunAs;
  superuser: string;
  /** Read by the agent; initdb gets a short-lived copy the run-as user can read. */
  superuserPasswordFile: string;
  log: Logger;
}

const INITDB_TIMEOUT_MS = 300_000;

/** C.UTF-8 when `locale -a` lists it, else C. */
export function pickLocale(localeList: string): 'C.UTF-8' | 'C' {
  return localeList.split('\n').some((l) => /^c\.utf-?8$/i.test(l.trim())) ? 'C.UTF-8' : 'C';
}

export async function initdb(options: InitdbOptions): Promise<void> {
  const { binDir, dataDir, runAs } = options;
  // Ensure an empty data directory owned by the run-as user (initdb refuses a non-empty one).
  await ensureDir(dataDir, 0o700, runAs);
  const locale = pickLocale((await runProgram('locale', ['-a']).catch(() => ({ stdout: '' }))).stdout);
  // Hand the password over in a file beside the data directory, which the run-as user can reach; remove it after.
  const pwFile = path.join(path.dirname(path.resolve(dataDir)), `.pgpilot-initdb-${randomBytes(6).toString('hex')}`);
  await writeOwnedFile(pwFile, `${await readSecret(options.superuserPasswordFile)}\n`, 0o600, runAs);
  options.log.info('initializing the data directory', { dataDir, locale });
  try {
    await runProgram(path.join(binDir, 'initdb'), [
      '-D', dataDir, '--username', options.superuser, `--pwfile=${pwFile}`, '--data-checksums',
      '--encoding=UTF8', `--locale=${locale}`, '--auth-local=peer', '--auth-host=scram-sha-256',
    ], { runAs, timeoutMs: INITDB_TIMEOUT_MS });
  } finally {
    await fs.rm(pwFile, { force: true });
  }
}
