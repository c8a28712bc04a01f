// The posix storage driver: a repository in a local directory, written atomically (temp file, fsync, rename, fsync dir).
import { randomBytes } from 'node:crypto';
import type { Dirent } from 'node:fs';
import fsp, { type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { AssertionFailure, PgpilotError, assert, errorMessage } from '../../base/errors.js';
import { byPath, checkPath, checkPrefix, checkTreePrefix, sourceErrors } from '../common.js';
import type { Storage, StorageCapabilities, StoredObject } from '../storage.js';

/** Bytes per read of a stored object's stream. */
const READ_CHUNK = 1024 * 1024;

/** Names of in-progress writes (`.<name>.tmp-<hex>`): never listed, never valid object names. */
const TEMP_NAME = /^\..+\.tmp-[0-9a-f]+$/;

const WRITE_CHUNK = 1024 * 1024;
const WRITE_HINT = 'check the repository directory exists or can be created, is writable by this user, and the disk is not full';
const READ_HINT = 'check the repository directory exists and is readable by this user';

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

/** A repository in a local directory. */
export class PosixStorage implements Storage {
  readonly kind = 'posix';
  readonly location: string;
  readonly capabilities: StorageCapabilities = { atomicRename: true };

  constructor(root: string) {
    assert(root !== '', 'posix storage needs a directory');
    this.location = path.resolve(root);
  }

  async write(p: string, data: Readable | Buffer): Promise<void> {
    const file = this.file(p);
    assert(!TEMP_NAME.test(path.basename(file)), `storage path ${JSON.stringify(p)} looks like a temporary file`);
    const dir = path.dirname(file);
    const temp = path.join(dir, `.${path.basename(file)}.tmp-${randomBytes(6).toString('hex')}`);
    const source = sourceErrors(data);
    try {
      await this.makeDirs(dir);
      const handle = await fsp.open(temp, 'wx', 0o600);
      try {
        await writeAll(handle, data);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await fsp.rename(temp, file);
      await syncDir(dir);
    } catch (e) {
      await fsp.rm(temp, { force: true }).catch(() => undefined);
      if (!Buffer.isBuffer(data)) data.destroy();
      if (source.error !== undefined) throw source.error;
      if (e instanceof PgpilotError || e instanceof AssertionFailure) throw e;
      throw new PgpilotError('Os', `cannot write ${file}: ${errorMessage(e)}`, { hint: WRITE_HINT, cause: e });
    }
  }

  async read(p: string): Promise<Readable> {
    const handle = await this.openForRead(p);
    // 1 MiB reads, not 64 KiB: a restore reads compressed objects, and each read is a round trip to a thread (a full
    // restore of 3.2 GB took 8 % less time).
    return handle.createReadStream({ highWaterMark: READ_CHUNK });
  }

  async readBuffer(p: string): Promise<Buffer> {
    const handle = await this.openForRead(p);
    try {
      return await handle.readFile();
    } catch (e) {
      throw new PgpilotError('Os', `cannot read ${this.file(p)}: ${errorMessage(e)}`, { hint: READ_HINT, cause: e });
    } finally {
      await handle.close();
    }
  }

  async stat(p: string): Promise<StoredObject | undefined> {
    const file = this.file(p);
    try {
      const st = await fsp.stat(file);
      return st.isFile() ? { path: p, size: st.size } : undefined;
    } catch (e) {
      if (errno(e) === 'ENOENT' || errno(e) === 'ENOTDIR') return undefined;
      throw new PgpilotError('Os', `cannot stat ${file}: ${errorMessage(e)}`, { hint: READ_HINT, cause: e });
    }
  }

  async list(prefix: string): Promise<StoredObject[]> {
    const dir = checkPrefix(prefix);
    const found: StoredObject[] = [];
    await this.walk(dir, prefix, found);
    return found.sort(byPath);
  }

  async remove(p: string): Promise<void> {
    const file = this.file(p);
    try {
      await fsp.unlink(file);
    } catch (e) {
      if (errno(e) === 'ENOENT' || errno(e) === 'ENOTDIR') return;
      throw new PgpilotError('Os', `cannot remove ${file}: ${errorMessage(e)}`, { hint: WRITE_HINT, cause: e });
    }
    await syncDir(path.dirname(file)).catch(() => undefined);
  }

  async removeTree(prefix: string): Promise<void> {
    const dir = path.join(this.location, checkTreePrefix(prefix));
    try {
      await fsp.rm(dir, { recursive: true, force: true });
    } catch (e) {
      throw new PgpilotError('Os', `cannot remove ${dir}: ${errorMessage(e)}`, { hint: WRITE_HINT, cause: e });
    }
    await syncDir(path.dirname(dir)).catch(() => undefined);
  }

  /** The absolute file of a storage path, after checking the path. */
  private file(p: string): string {
    checkPath(p);
    return path.join(this.location, p);
  }

  private async openForRead(p: string): Promise<FileHandle> {
    const file = this.file(p);
    let handle: FileHandle;
    try {
      handle = await fsp.open(file, 'r');
    } catch (e) {
      if (errno(e) === 'ENOENT' || errno(e) === 'ENOTDIR') throw notFound(file, e);
      throw new PgpilotError('Os', `cannot open ${file}: ${errorMessage(e)}`, { hint: READ_HINT, cause: e });
    }
    const st = await handle.stat();
    if (!st.isFile()) {
      await handle.close();
      throw notFound(file, undefined);
    }
    return handle;
  }

  /** Creates `dir` and its missing parents, and makes their entries durable. */
  private async makeDirs(dir: string): Promise<void> {
    const first = await fsp.mkdir(dir, { recursive: true });
    if (first === undefined) return;
    // Each new directory's entry lives in its parent: sync from the parent of the first one created down to dir's parent.
    const chain: string[] = [];
    for (let d = dir; d !== path.dirname(first); d = path.dirname(d)) chain.push(path.dirname(d));
    for (const d of chain.reverse()) await syncDir(d);
  }

  /** Adds the files under storage directory `rel` (ending in `/` or '') whose paths start with `prefix`. */
  private async walk(rel: string, prefix: string, found: StoredObject[]): Promise<void> {
    const dir = path.join(this.location, rel);
    let entries: Dirent[];
    try {
      entries = await fsp.readdir(dir, { withFileTypes: true });
    } catch (e) {
      if (errno(e) === 'ENOENT' || errno(e) === 'ENOTDIR') return;
      throw new PgpilotError('Os', `cannot list ${dir}: ${errorMessage(e)}`, { hint: READ_HINT, cause: e });
    }
    await Promise.all(
      entries.map(async (entry) => {
        const p = rel + entry.name;
        if (entry.isDirectory()) {
          const sub = `${p}/`;
          if (sub.startsWith(prefix) || prefix.startsWith(sub)) await this.walk(sub, prefix, found);
        } else if (entry.isFile() && p.startsWith(prefix) && !TEMP_NAME.test(entry.name)) {
          const size = await fileSize(path.join(dir, entry.name));
          if (size !== undefined) found.push({ path: p, size });
        }
      }),
    );
  }
}

function notFound(file: string, cause: unknown): PgpilotError {
  return new PgpilotError('NotFound', `${file} does not exist`, {
    hint: 'check the repository path; the object may have been expired or never written',
    ...(cause === undefined ? {} : { cause }),
  });
}

/** A file's size, or undefined when it vanished since it was listed. */
async function fileSize(file: string): Promise<number | undefined> {
  try {
    return (await fsp.stat(file)).size;
  } catch (e) {
    if (errno(e) === 'ENOENT') return undefined;
    throw new PgpilotError('Os', `cannot stat ${file}: ${errorMessage(e)}`, { hint: READ_HINT, cause: e });
  }
}

/** Writes a buffer or a whole stream, coalescing small chunks into writes of about 1 MiB. */
async function writeAll(handle: FileHandle, data: Readable | Buffer): Promise<void> {
  if (Buffer.isBuffer(data)) return writeFully(handle, data);
  const pending: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of data as AsyncIterable<unknown>) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    assert(bytes instanceof Uint8Array, 'storage write stream yielded neither bytes nor a string');
    pending.push(bytes);
    size += bytes.length;
    if (size >= WRITE_CHUNK) {
      await writeFully(handle, Buffer.concat(pending, size));
      pending.length = 0;
      size = 0;
    }
  }
  if (size > 0) await writeFully(handle, Buffer.concat(pending, size));
}

async function writeFully(handle: FileHandle, bytes: Uint8Array): Promise<void> {
  for (let offset = 0; offset < bytes.length; ) {
    const { bytesWritten } = await handle.write(bytes, offset, bytes.length - offset);
    offset += bytesWritten;
  }
}

/** Makes a directory's entries (a rename, a new file) durable. */
async function syncDir(dir: string): Promise<void> {
  const handle = await fsp.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
