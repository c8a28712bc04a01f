// The storage interface every repository driver (posix, s3) implements: whole objects addressed by relative paths.
import type { Readable } from 'node:stream';

/** One stored object, as listed. `path` is relative to the storage root and uses `/`. */
export interface StoredObject {
  readonly path: string;
  readonly size: number;
}

/** What a driver can do beyond the common interface; callers branch on these, never on the driver's kind. */
export interface StorageCapabilities {
  /** Objects can be renamed cheaply and atomically (posix yes, s3 no). */
  readonly atomicRename: boolean;
}

/**
 * A repository's storage. Paths are relative (`a/b/c`), never absolute, never containing `..`.
 * Every write is atomic and durable when its promise resolves: a reader never sees a half-written object,
 * and a crash after resolution never loses it (posix: temp file + fsync + rename + directory fsync).
 */
export interface Storage {
  readonly kind: 'posix' | 's3';
  /** Where the storage is, for messages: a directory or `s3://bucket/prefix`. */
  readonly location: string;
  readonly capabilities: StorageCapabilities;
  /** Write a whole object from a stream or buffer, replacing any previous one. Resolves once durable. */
  write(path: string, data: Readable | Buffer): Promise<void>;
  /** A stream of an object's bytes. Rejects with PgpilotError('NotFound') when it does not exist. */
  read(path: string): Promise<Readable>;
  /** An object's bytes. Rejects with PgpilotError('NotFound') when it does not exist. */
  readBuffer(path: string): Promise<Buffer>;
  /** The object's size, or undefined when it does not exist. */
  stat(path: string): Promise<StoredObject | undefined>;
  /** Every object whose path starts with `prefix` (recursively), sorted by path. An empty prefix lists all. */
  list(prefix: string): Promise<StoredObject[]>;
  /** Remove one object; no error when it does not exist. */
  remove(path: string): Promise<void>;
  /** Remove every object under `prefix` (a directory-like prefix ending in `/`). */
  removeTree(prefix: string): Promise<void>;
}
