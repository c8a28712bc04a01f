// The OS user PostgreSQL runs as: resolving it, and creating directories and files that user owns.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PgpilotError, errorMessage } from '../base/errors.js';

/** Who PostgreSQL programs run as: the configured user when we are root, ourselves otherwise. */
export interface RunAs {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

/** Whether this process runs as root and must therefore switch users for PostgreSQL. */
export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** Finds `user` in /etc/passwd text (lines name:x:uid:gid:gecos:home:shell). */
export function findPasswdEntry(passwd: string, user: string): RunAs | undefined {
  for (const line of passwd.split('\n')) {
    const [name, , uid, gid, , home] = line.split(':');
    if (name !== user || uid === undefined || gid === undefined || home === undefined) continue;
    if (/^\d+$/.test(uid) && /^\d+$/.test(gid)) return { name, uid: Number(uid), gid: Number(gid), home };
  }
  return undefined;
}

/** The user to run PostgreSQL programs as: `user` (e.g. postgres) when root, else the current user. */
export async function resolveRunAs(user: string): Promise<RunAs> {
  if (!isRoot()) {
    const me = os.userInfo();
    return { name: me.username, uid: me.uid, gid: me.gid, home: me.homedir };
  }
  const found = findPasswdEntry(await osStep('read /etc/passwd', () => fs.readFile('/etc/passwd', 'utf8')), user);
  if (found === undefined || found.uid === 0) {
    throw new PgpilotError('Os', `no unprivileged OS user "${user}" in /etc/passwd to run PostgreSQL as`, {
      hint: 'PostgreSQL refuses to run as root: create that user (Debian: the postgresql package) or set postgres.runAs',
    });
  }
  return found;
}

/** Creates `dir` (parents with default mode), then sets its mode and owner. */
export async function ensureDir(dir: string, mode: number, owner: RunAs): Promise<void> {
  await osStep(`create directory ${dir}`, async () => {
    await fs.mkdir(path.dirname(dir), { recursive: true });
    await fs.mkdir(dir, { recursive: true, mode });
    await fs.chmod(dir, mode);
    await fs.chown(dir, owner.uid, owner.gid);
  });
}

/** Gives `target` and everything below it to `owner` (symbolic links themselves, not their targets). */
export async function chownR(target: string, owner: RunAs): Promise<void> {
  await osStep(`change owner of ${target}`, async () => {
    await fs.lchown(target, owner.uid, owner.gid);
    const stat = await fs.lstat(target);
    if (!stat.isDirectory()) return;
    const entries = await fs.readdir(target, { recursive: true });
    for (const entry of entries) await fs.lchown(path.join(target, entry), owner.uid, owner.gid);
  });
}

/** Writes a file atomically (temp file, fsync, rename) with the given mode and owner. */
export async function writeOwnedFile(file: string, content: string, mode: number, owner: RunAs): Promise<void> {
  const temp = `${file}.tmp-${randomBytes(4).toString('hex')}`;
  await osStep(`write ${file}`, async () => {
    const handle = await fs.open(temp, 'wx', mode);
    try {
      await handle.writeFile(content);
      await handle.chmod(mode);
      await handle.chown(owner.uid, owner.gid);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(temp, file);
  }).catch(async (e: unknown) => {
    await fs.rm(temp, { force: true });
    throw e;
  });
}

/** Reads a secret from a file, without its trailing line break; an empty secret is an error. */
export async function readSecret(file: string): Promise<string> {
  const text = await readTextFile(file);
  const secret = text.replace(/\r?\n$/, '');
  if (secret === '' || /[\r\n]/.test(secret)) {
    throw new PgpilotError('Config', `secret file ${file} must hold exactly one non-empty line`, {
      hint: 'write the password alone on the first line',
    });
  }
  return secret;
}

/** A file's text; failing to read it is an Os error naming the file. */
export function readTextFile(file: string): Promise<string> {
  return osStep(`read ${file}`, () => fs.readFile(file, 'utf8'));
}

/** Runs a file-system step, turning failures into an Os error that says what was attempted. */
async function osStep<T>(what: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (e) {
    if (e instanceof PgpilotError) throw e;
    throw new PgpilotError('Os', `could not ${what}: ${errorMessage(e)}`, {
      hint: 'check the path, its permissions and free space',
      cause: e,
    });
  }
}
