// PostgreSQL started by a restore for itself alone: a unix socket, trust for local connections, no archiving.
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../base/log.js';
import { RESTORE_MARK, withoutRestoreSettings } from '../backup/restore-to-dir.js';
import { type RunAs, ensureDir, resolveRunAs } from '../pg/os-user.js';
import { startPostgres, stopPostgres } from '../pg/postmaster.js';
import type { ConnectOptions } from '../pg/query.js';
import { freePort } from './ports.js';

export interface TemporaryServerOptions {
  dataDir: string;
  socketDir: string;
  logFile: string;
  owner: RunAs | undefined;
  log: Logger;
  /** recovery.signal (archive recovery) or standby.signal. */
  signal: 'recovery.signal' | 'standby.signal';
  /** More settings for postgresql.auto.conf (recovery settings). */
  settings: readonly string[];
}

export interface TemporaryServer {
  /** A superuser connection over the socket. */
  conn: ConnectOptions;
  /** Starts PostgreSQL and waits until it accepts connections (a standby does once consistent). */
  start(timeoutMs: number): Promise<void>;
  /** Stops PostgreSQL (fast) and removes the temporary settings, the signal file and the trust rules. */
  stop(): Promise<void>;
}

const confQuote = (v: string): string => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;

async function own(files: readonly string[], owner: RunAs | undefined): Promise<void> {
  if (owner !== undefined) for (const f of files) await fs.chown(f, owner.uid, owner.gid);
}

/** Writes the settings and the signal file; nothing runs until `start`. */
export async function temporaryServer(o: TemporaryServerOptions): Promise<TemporaryServer> {
  const runAs = o.owner ?? (await resolveRunAs(process.env['USER'] ?? 'postgres'));
  await ensureDir(o.socketDir, 0o700, runAs);
  const hba = path.join(o.dataDir, 'pgpilot-restore-hba.conf');
  await fs.writeFile(hba, 'local all all trust\n', { mode: 0o600 });
  const auto = path.join(o.dataDir, 'postgresql.auto.conf');
  const original = withoutRestoreSettings(await fs.readFile(auto, 'utf8').catch(() => ''));
  const port = await freePort();
  const settings = [
    RESTORE_MARK, "archive_mode = 'off'", "listen_addresses = ''", `port = ${port}`, `unix_socket_directories = ${confQuote(o.socketDir)}`,
    `hba_file = ${confQuote(hba)}`, ...o.settings,
  ];
  await fs.writeFile(auto, `${original}${settings.join('\n')}\n`, { mode: 0o600 });
  const signal = path.join(o.dataDir, o.signal);
  await fs.writeFile(signal, '', { mode: 0o600 });
  // The restore handed the directory to its owner already: only what was written here changes hands.
  await own([hba, auto, signal], o.owner);
  return {
    conn: { host: o.socketDir, port, user: 'postgres', database: 'postgres', statementTimeoutMs: 60_000 },
    start: async (timeoutMs) => {
      await startPostgres({ binDir: '/usr/lib/postgresql/15/bin', dataDir: o.dataDir, runAs, logFile: o.logFile, log: o.log, timeoutMs, dieWithParent: true });
    },
    stop: async () => {
      await stopPostgres(o.dataDir, 'fast', 120_000, o.log);
      await fs.writeFile(auto, original, { mode: 0o600 });
      await fs.rm(hba, { force: true });
      await fs.rm(signal, { force: true });
      await own([auto], o.owner);
    },
  };
}
