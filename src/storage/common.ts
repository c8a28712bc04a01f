// What every storage driver shares: the rules for paths (relative, no `.`/`..`/empty segments), listing order, source errors.
import type { Readable } from 'node:stream';
import { assert } from '../base/errors.js';

/** Asserts `p` is a valid object path: relative, non-empty segments, no `.` or `..`, no NUL. */
export function checkPath(p: string): void {
  assert(p !== '', 'storage path is empty');
  assert(!p.includes('\0'), `storage path ${JSON.stringify(p)} contains a NUL byte`);
  assert(!p.startsWith('/'), `storage path ${JSON.stringify(p)} is absolute; storage paths are relative`);
  for (const segment of p.split('/')) {
    assert(segment !== '', `storage path ${JSON.stringify(p)} has an empty segment`);
    assert(segment !== '.' && segment !== '..', `storage path ${JSON.stringify(p)} contains a "${segment}" segment`);
  }
}

/**
 * Asserts `prefix` is a valid listing prefix and returns its directory part (up to and including the last `/`, or '').
 * A prefix is '' or a path whose last segment may be partial or empty (`a/b/`, `a/b`, `a/b/2024-`).
 */
export function checkPrefix(prefix: string): string {
  assert(!prefix.includes('\0'), `storage prefix ${JSON.stringify(prefix)} contains a NUL byte`);
  const slash = prefix.lastIndexOf('/');
  if (slash < 0) return '';
  checkPath(prefix.slice(0, slash));
  return prefix.slice(0, slash + 1);
}

/** Asserts `prefix` names a directory-like tree and returns it ending in `/` (`a/b` and `a/b/` give `a/b/`). */
export function checkTreePrefix(prefix: string): string {
  const dir = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  assert(dir !== '', 'removeTree needs a non-empty prefix: removing a whole repository is not a storage operation');
  checkPath(dir);
  return `${dir}/`;
}

/** Sorts objects by path in code-unit order, the same order on every driver. */
export function byPath(a: { path: string }, b: { path: string }): number {
  return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}

/** Records the error of a source stream, so a failed write rethrows the source's own error rather than a storage one. */
export function sourceErrors(data: Readable | Buffer): { error: Error | undefined } {
  const seen: { error: Error | undefined } = { error: undefined };
  if (!Buffer.isBuffer(data)) data.once('error', (e: Error) => (seen.error = e));
  return seen;
}
