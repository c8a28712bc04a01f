// SCRAM-SHA-256 verifiers exactly as PostgreSQL stores them (RFC 5802/7677), for roles and for pgbouncer's auth_file.
import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

export const scramIterations = 4096;
const verifierPattern = /^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$/;
const derive = promisify(pbkdf2);

/** The SASLprep steps that change bytes (as the pg client applies them): odd spaces, invisible characters, NFKC. */
export function saslprep(password: string): string {
  return password
    .replace(/[\u00A0\u1680\u2000-\u200B\u202F\u205F\u3000]/g, ' ')
    .replace(/[\u00AD\u034F\u1806\u180B\u180C\u180D\u200C\u200D\u2060\uFE00-\uFE0F\uFEFF]/g, '')
    .normalize('NFKC');
}

/** StoredKey = H(HMAC(SaltedPassword, "Client Key")), ServerKey = HMAC(SaltedPassword, "Server Key"). */
export async function scramKeys(password: string, salt: Buffer, iterations: number): Promise<{ storedKey: Buffer; serverKey: Buffer }> {
  const salted = await derive(saslprep(password), salt, iterations, 32, 'sha256');
  const hmac = (key: Buffer, text: string): Buffer => createHmac('sha256', key).update(text).digest();
  return {
    storedKey: createHash('sha256').update(hmac(salted, 'Client Key')).digest(),
    serverKey: hmac(salted, 'Server Key'),
  };
}

/**
 * `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`. Sending this instead of a password keeps the password
 * out of pg_stat_activity, pg_stat_statements and the server log.
 */
export async function scramVerifier(password: string, salt: Buffer = randomBytes(16), iterations = scramIterations): Promise<string> {
  const keys = await scramKeys(password, salt, iterations);
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${keys.storedKey.toString('base64')}:${keys.serverKey.toString('base64')}`;
}

/** Whether `text` has the form of a SCRAM-SHA-256 verifier. */
export function isScramVerifier(text: string): boolean {
  return verifierPattern.test(text);
}

/** Whether `verifier` was made from `password` (with its own salt and iterations); compared in constant time. */
export async function verifierMatches(password: string, verifier: string): Promise<boolean> {
  const parts = verifierPattern.exec(verifier);
  if (parts === null) return false;
  const again = await scramVerifier(password, Buffer.from(parts[2] ?? '', 'base64'), Number(parts[1]));
  return again.length === verifier.length && timingSafeEqual(Buffer.from(again), Buffer.from(verifier));
}
