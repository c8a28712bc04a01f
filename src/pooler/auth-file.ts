// pgbouncer's auth_file: one `"user" "SCRAM-SHA-256$..."` line per role, and SCRAM-SHA-256 verifiers (RFC 5802/7677).
import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { PgpilotError } from '../base/errors.js';

/**
 * A login pgbouncer accepts. For the application roles, `verifier` must be the role's rolpassword from pg_authid,
 * byte for byte: pgbouncer 1.18 logs in to PostgreSQL with the keys the client's own SCRAM exchange proved, which
 * only works when its verifier has the server's salt and iterations (a verifier of the same password with another
 * salt lets the client in but every server login then fails, and the client waits until query_wait_timeout).
 */
export interface AuthEntry {
  user: string;
  verifier: string;
}

const ITERATIONS = 4096;
const VERIFIER = /^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$/;
const derive = promisify(pbkdf2);

/**
 * The SCRAM-SHA-256 verifier of `password`, as PostgreSQL stores it:
 * `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`. Only printable ASCII passwords (which SASLprep leaves
 * as they are): it serves passwords pgpilot generates, such as the pooler admin's.
 */
export async function scramVerifier(password: string, salt: Buffer = randomBytes(16), iterations = ITERATIONS): Promise<string> {
  if (!/^[\x20-\x7e]+$/.test(password)) {
    throw new PgpilotError('Pooler', 'a pooler password must be non-empty printable ASCII', {
      hint: 'generate it from letters and digits',
    });
  }
  const keys = await scramKeys(password, salt, iterations);
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${keys.storedKey.toString('base64')}:${keys.serverKey.toString('base64')}`;
}

/** Whether `verifier` was made from `password` (with its own salt and iterations). */
export async function verifierMatches(password: string, verifier: string): Promise<boolean> {
  const parts = VERIFIER.exec(verifier);
  if (parts === null || !/^[\x20-\x7e]+$/.test(password)) return false;
  const again = await scramVerifier(password, Buffer.from(parts[2] ?? '', 'base64'), Number(parts[1]));
  return again.length === verifier.length && timingSafeEqual(Buffer.from(again), Buffer.from(verifier));
}

/** StoredKey = H(HMAC(SaltedPassword, "Client Key")), ServerKey = HMAC(SaltedPassword, "Server Key"). */
export async function scramKeys(password: string, salt: Buffer, iterations: number): Promise<{ storedKey: Buffer; serverKey: Buffer }> {
  const salted = await derive(password, salt, iterations, 32, 'sha256');
  const hmac = (key: Buffer, text: string): Buffer => createHmac('sha256', key).update(text).digest();
  return {
    storedKey: createHash('sha256').update(hmac(salted, 'Client Key')).digest(),
    serverKey: hmac(salted, 'Server Key'),
  };
}

/** The auth_file text, sorted by user; only SCRAM verifiers, so no password is ever on disk. */
export function renderAuthFile(entries: readonly AuthEntry[]): string {
  const seen = new Set<string>();
  for (const { user, verifier } of entries) {
    if (user === '' || /[\r\n]/.test(user)) throw new PgpilotError('Pooler', `invalid pooler user name ${JSON.stringify(user)}`);
    if (seen.has(user)) throw new PgpilotError('Pooler', `pooler user "${user}" is listed twice`);
    seen.add(user);
    if (!VERIFIER.test(verifier)) {
      throw new PgpilotError('Pooler', `the secret of pooler user "${user}" is not a SCRAM-SHA-256 verifier`, {
        hint: "take rolpassword from pg_authid (password_encryption = 'scram-sha-256'), or use scramVerifier",
      });
    }
  }
  const quote = (s: string): string => `"${s.replaceAll('"', '""')}"`;
  const lines = [...entries].sort((a, b) => (a.user < b.user ? -1 : 1)).map((e) => `${quote(e.user)} ${quote(e.verifier)}`);
  return lines.map((l) => `${l}\n`).join('');
}

/** The entries of an auth_file text (its first two quoted fields per line; other lines are skipped). */
export function parseAuthFile(text: string): AuthEntry[] {
  const entries: AuthEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = [...line.matchAll(/"((?:[^"]|"")*)"/g)].map((m) => (m[1] ?? '').replaceAll('""', '"'));
    const [user, verifier] = fields;
    if (user !== undefined && verifier !== undefined) entries.push({ user, verifier });
  }
  return entries;
}
