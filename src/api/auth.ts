// Access to the mutating endpoints: the member's API token as a Bearer token, or as the password of HTTP Basic auth.
import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Whether an Authorization header carries `token`. pgpilot's own client sends `Bearer <token>`; Patroni protects the
 * same endpoints with HTTP Basic auth, so `Basic` with any user name and the token as password is accepted too: that is
 * what patronictl sends when its `restapi.authentication` (or `ctl.authentication`) password is set to the token.
 */
export function isAuthorized(authorization: string | undefined, token: string): boolean {
  const secret = authorization === undefined ? undefined : presentedSecret(authorization);
  return secret !== undefined && sameSecret(secret, token);
}

function presentedSecret(authorization: string): string | undefined {
  const m = /^(\w+)\s+(\S+)\s*$/.exec(authorization);
  const scheme = m?.[1]?.toLowerCase();
  const credentials = m?.[2];
  if (credentials === undefined) return undefined;
  if (scheme === 'bearer') return credentials;
  if (scheme !== 'basic') return undefined;
  const decoded = Buffer.from(credentials, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? undefined : decoded.slice(colon + 1);
}

/** Constant-time comparison: digests make the lengths equal, so neither content nor length leaks through timing. */
function sameSecret(a: string, b: string): boolean {
  const digest = (v: string): Buffer => createHash('sha256').update(v, 'utf8').digest();
  return timingSafeEqual(digest(a), digest(b));
}
