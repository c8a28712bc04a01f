// Generated secrets (passwords, API token): created once, kept in files of mode 0600, never printed.
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { PgpilotError, errorMessage } from '../base/errors.js';

/** A random secret of URL- and conninfo-safe characters. */
export function generateSecret(bytes = 24): string {
  return crypto.randomBytes(bytes).toString('base64url');
}

/** Creates the file with a new secret unless it exists; returns the secret either way. */
export async function ensureSecretFile(file: string): Promise<string> {
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  try {
    await fs.writeFile(file, generateSecret() + '\n', { mode: 0o600, flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  return readSecretFile(file);
}

export async function readSecretFile(file: string): Promise<string> {
  try {
    return (await fs.readFile(file, 'utf8')).trim();
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : errorMessage(e);
    throw new PgpilotError('NotFound', `cannot read the secret file ${file}: ${why}`, {
      hint: 'for a cluster started elsewhere, pass --token-file with a copy of its api.token (mode 0600)',
    });
  }
}
