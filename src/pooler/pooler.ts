// A pooler handle (rw or ro): its files, repointing it at targets, its auth_file, and PAUSE/RESUME over the console.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { PgpilotError, errorMessage } from '../base/errors.js';
import { PoolerAdmin, type PoolerDatabase } from './admin.js';
import { parseAuthFile, renderAuthFile, scramVerifier, verifierMatches, type AuthEntry } from './auth-file.js';
import { destination, renderPoolerIni, type PoolerName, type PoolerTarget, type PoolMode } from './config.js';

export interface PoolerOptions {
  name: PoolerName;
  /**
   * The pooler's private directory (made mode 0700, owned by runAs): pgbouncer.ini, the auth_file, the pid file,
   * the unix socket (the console is reached through it) and pgbouncer.log, for startPooler's logFile.
   */
  dir: string;
  listenAddr: string;
  port: number;
  poolMode: PoolMode;
  /** The client-side database names it serves. */
  databases: string[];
  /** Its console user (not a PostgreSQL role); the auth_file gets a verifier of this password. */
  admin: { user: string; password: string };
  runAs: { uid: number; gid: number };
  maxClientConn?: number;
  defaultPoolSize?: number;
}

export interface PointAtResult {
  /** pgbouncer was reloaded: the targets differed from the file's (it was rewritten), or a reload had failed. */
  changed: boolean;
  /** Databases whose clients were cut (KILL, then RESUME) because they still held a server on an old target. */
  killed: string[];
}

export interface PoolerStatus {
  name: PoolerName;
  port: number;
  /** Every database is paused (false when it serves none). */
  paused: boolean;
  databases: PoolerDatabase[];
}

const DEFAULT_PAUSE_TIMEOUT_MS = 30_000;

export class Pooler {
  readonly name: PoolerName;
  readonly port: number;
  readonly dir: string;
  readonly iniFile: string;
  readonly authFile: string;
  readonly pidFile: string;
  readonly logFile: string;
  readonly admin: PoolerAdmin;
  /** A file was rewritten but its RELOAD (or the check after it) failed: the next pointAt or updateAuth reloads. */
  private reloadPending = false;

  constructor(private readonly options: PoolerOptions) {
    this.name = options.name;
    this.port = options.port;
    this.dir = options.dir;
    this.iniFile = path.join(options.dir, 'pgbouncer.ini');
    this.authFile = path.join(options.dir, 'auth_file');
    this.pidFile = path.join(options.dir, 'pgbouncer.pid');
    this.logFile = path.join(options.dir, 'pgbouncer.log');
    this.admin = new PoolerAdmin({ host: options.dir, port: options.port, ...options.admin });
  }

  /** The ini text for these targets. */
  render(targets: readonly PoolerTarget[]): string {
    const o = this.options;
    return renderPoolerIni({
      name: o.name, listenAddr: o.listenAddr, listenPort: o.port, socketDir: o.dir, authFile: this.authFile,
      pidFile: this.pidFile, poolMode: o.poolMode, adminUsers: [o.admin.user], databases: o.databases, targets: [...targets],
      ...(o.maxClientConn === undefined ? {} : { maxClientConn: o.maxClientConn }),
      ...(o.defaultPoolSize === undefined ? {} : { defaultPoolSize: o.defaultPoolSize }),
    });
  }

  /** Writes pgbouncer.ini for `targets` unless it already says that; no reload. Returns whether it changed. */
  async writeConfig(targets: readonly PoolerTarget[]): Promise<boolean> {
    return this.writeIfChanged(this.iniFile, this.render(targets));
  }

  /**
   * Writes the auth_file: `users` (application roles with their pg_authid verifiers) and the admin user, whose
   * verifier is kept while it still matches the admin password, so an unchanged list leaves the file alone.
   */
  async writeAuth(users: readonly AuthEntry[]): Promise<boolean> {
    const { user, password } = this.options.admin;
    if (users.some((u) => u.user === user)) {
      throw new PgpilotError('Pooler', `"${user}" is the ${this.name} pooler's admin user and cannot be an application user`);
    }
    const current = parseAuthFile(await fs.readFile(this.authFile, 'utf8').catch(() => '')).find((e) => e.user === user);
    const verifier = current !== undefined && (await verifierMatches(password, current.verifier))
      ? current.verifier : await scramVerifier(password);
    return this.writeIfChanged(this.authFile, renderAuthFile([...users, { user, verifier }]));
  }

  /**
   * Leads the pooler to `targets` (see destination() for how the ro pooler chooses). Rewrites pgbouncer.ini and
   * reloads only when the targets changed (or the last reload failed), then checks that pgbouncer took them.
   * A database that loses its last target is removed from the ini: pgbouncer then drops its clients at once.
   *
   * pgbouncer 1.18 on RELOAD marks the server connections of a changed database close_needed: they are closed when
   * released and never reused, and new server connections go to the new target. With transaction pooling that is
   * at the end of each transaction, so clients keep their connections across a repoint. With session pooling a
   * client keeps its server until it disconnects; `dropStale` (default: on in session mode) then KILLs such a
   * database and RESUMEs it, cutting those sessions (and any others of that database) so they reconnect.
   * A database that is paused is left alone: its PAUSE finished, so none of its servers is in use.
   */
  async pointAt(targets: readonly PoolerTarget[], options: { dropStale?: boolean } = {}): Promise<PointAtResult> {
    const written = await this.writeConfig(targets);
    if (!written && !this.reloadPending) return { changed: false, killed: [] };
    this.reloadPending = true;
    await this.admin.reload();
    const to = destination(this.name, targets);
    const dbs = await this.admin.databases();
    const wrong = to === undefined
      ? dbs.map((d) => d.name)
      : this.options.databases.filter((name) => {
        const d = dbs.find((x) => x.name === name);
        return d === undefined || d.host !== to.hosts.join(',') || d.port !== to.port;
      });
    if (wrong.length > 0) {
      throw new PgpilotError('Pooler', `the ${this.name} pooler did not take its new targets for ${wrong.join(', ')} on RELOAD`, {
        hint: `read ${this.logFile} for the reason (a bad line in ${this.iniFile}?)`,
      });
    }
    this.reloadPending = false;
    const killed: string[] = [];
    if (options.dropStale ?? this.options.poolMode === 'session') {
      const stale = new Set((await this.admin.servers()).filter((s) => s.closeNeeded && s.state === 'active').map((s) => s.database));
      for (const db of dbs.filter((d) => stale.has(d.name) && !d.paused)) {
        await this.admin.kill(db.name);
        await this.admin.resume(db.name);
        killed.push(db.name);
      }
    }
    return { changed: true, killed };
  }

  /** writeAuth, then RELOAD when the file changed (or a reload had failed). Returns whether it reloaded. */
  async updateAuth(users: readonly AuthEntry[]): Promise<boolean> {
    const written = await this.writeAuth(users);
    if (!written && !this.reloadPending) return false;
    this.reloadPending = true;
    await this.admin.reload();
    this.reloadPending = false;
    return true;
  }

  /**
   * PAUSEs each database it serves, one after the other within `timeoutMs` in all: returns once no server connection
   * is in use; clients' new queries wait (up to query_wait_timeout). On failure every pause is undone and the error
   * thrown. With no target (no database) there is nothing to pause.
   */
  async pause(timeoutMs = DEFAULT_PAUSE_TIMEOUT_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const names = (await this.admin.databases()).map((d) => d.name);
    try {
      for (const db of names) await this.admin.pause(db, Math.max(1, deadline - Date.now()));
    } catch (e) {
      await this.resume().catch(() => undefined);
      throw e;
    }
  }

  /** RESUMEs every database (those not paused included). */
  async resume(): Promise<void> {
    for (const d of await this.admin.databases()) await this.admin.resume(d.name);
  }

  async status(): Promise<PoolerStatus> {
    const databases = await this.admin.databases();
    return { name: this.name, port: this.port, paused: databases.length > 0 && databases.every((d) => d.paused), databases };
  }

  /** Atomic: a temp file (mode 0600, owned by the run-as user) renamed over `file`; nothing when the text is the same. */
  private async writeIfChanged(file: string, text: string): Promise<boolean> {
    const { uid, gid } = this.options.runAs;
    if ((await fs.readFile(file, 'utf8').catch(() => undefined)) === text) return false;
    const temp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
      await fs.chmod(this.dir, 0o700);
      await fs.chown(this.dir, uid, gid);
      await fs.writeFile(temp, text, { mode: 0o600, flag: 'wx' });
      await fs.chown(temp, uid, gid);
      await fs.rename(temp, file);
    } catch (e) {
      await fs.rm(temp, { force: true });
      throw new PgpilotError('Os', `could not write ${file}: ${errorMessage(e)}`, {
        hint: 'check that the pooler directory is writable by the agent',
        cause: e,
      });
    }
    return true;
  }
}
