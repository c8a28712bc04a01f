// Generated secrets (passwords, API token): created once, kept in files of mode 0600, never printed.
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

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
  return (await fs.readFile(file, 'utf8')).trim();
}
