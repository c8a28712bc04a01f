// pgbouncer's auth_file: one `"user" "SCRAM-SHA-256$..."` line per role, and SCRAM-SHA-256 verifiers (RFC 5802/7677).
import { isScramVerifier, scramVerifier as modelVerifier, verifierMatches as modelMatches } from '../model/scram.js';
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

const printable = /^[\x20-\x7e]+$/;

/**
 * The verifier of a password pgpilot generates for a pooler (the admin's): printable ASCII only, so that no SASLprep
 * subtlety can make pgbouncer and PostgreSQL disagree.
 */
export async function scramVerifier(password: string, salt?: Buffer): Promise<string> {
  if (!printable.test(password)) {
    throw new PgpilotError('Pooler', 'a pooler password must be non-empty printable ASCII', {
      hint: 'generate it from letters and digits',
    });
  }
  return salt === undefined ? modelVerifier(password) : modelVerifier(password, salt);
}

/** Whether `verifier` was made from `password`. */
export async function verifierMatches(password: string, verifier: string): Promise<boolean> {
  return printable.test(password) && (await modelMatches(password, verifier));
}

/** The auth_file text, sorted by user; only SCRAM verifiers, so no password is ever on disk. */
export function renderAuthFile(entries: readonly AuthEntry[]): string {
  const seen = new Set<string>();
  for (const { user, verifier } of entries) {
    if (user === '' || /[\r\n]/.test(user)) throw new PgpilotError('Pooler', `invalid pooler user name ${JSON.stringify(user)}`);
    if (seen.has(user)) throw new PgpilotError('Pooler', `pooler user "${user}" is listed twice`);
    seen.add(user);
    if (!isScramVerifier(verifier)) {
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
