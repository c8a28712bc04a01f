// pgpilot's managed settings: pgpilot.conf (included from postgresql.conf) and the standby.signal switch.
import fs from 'node:fs/promises';
import path from 'node:path';
import { PgpilotError } from '../base/errors.js';
import { hbaPath } from './hba.js';
import { readTextFile, writeOwnedFile, type RunAs } from './os-user.js';

export type ParameterValue = string | number | boolean;

/** Whom a replica streams from; the password comes from `passFile`, never from the conninfo. */
export interface PrimaryConnection {
  host: string;
  port: number;
  user: string;
  /** application_name: the member name, as pg_stat_replication and synchronous_standby_names see it. */
  appName: string;
  passFile: string;
  slot?: string;
}

export interface ConfSettings {
  dataDir: string;
  listen: string;
  port: number;
  socketDir: string;
  /** The user's parameters; they may override the replication defaults but not the settings pgpilot owns. */
  parameters: Record<string, ParameterValue>;
  /** Set on a replica. */
  primary?: PrimaryConnection;
  /** Continuous archiving (when the cluster has backup repositories): archive_mode on with this archive_command. */
  archive?: { command: string };
}

export const CONF_FILE = 'pgpilot.conf';
const INCLUDE_LINE = `include_if_exists = '${CONF_FILE}'`;

/** Settings pgpilot owns outright: a user parameter naming one is a config error. */
const OWNED = new Set([
  'listen_addresses', 'port', 'unix_socket_directories', 'hba_file',
  'log_destination', 'logging_collector', 'primary_conninfo', 'primary_slot_name', 'archive_command',
]);

/** Owned too while pgpilot archives: the WAL archiver relies on its own archive_command running. */
const OWNED_WHEN_ARCHIVING = new Set(['archive_mode', 'archive_library']);

/** The default switch interval while archiving: a quiet primary's last writes reach the archive within a minute. */
const ARCHIVE_TIMEOUT_S = 60;

/** Replication-ready defaults that user parameters may override. */
const DEFAULTS: Record<string, ParameterValue> = {
  wal_level: 'replica',
  hot_standby: true,
  max_wal_senders: 10,
  max_replication_slots: 10,
  wal_log_hints: true,
  password_encryption: 'scram-sha-256',
  // pg_rewind reads a former primary's own WAL back to the checkpoint before the fork: keep some.
  wal_keep_size: '128MB',
};

/** A value as postgresql.conf wants it: numbers and booleans bare, strings single-quoted with ' and \ escaped. */
export function quoteValue(name: string, value: ParameterValue): string {
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw badParameter(name, 'is not a finite number');
    return String(value);
  }
  if (/[\x00-\x1f]/.test(value)) throw badParameter(name, 'contains a control character or line break');
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

/** A libpq connection string; values with spaces, quotes or backslashes are quoted. */
export function conninfo(fields: Record<string, string | number>): string {
  const value = (v: string): string => (/^[^\s'\\]+$/.test(v) ? v : `'${v.replace(/[\\']/g, (c) => `\\${c}`)}'`);
  return Object.entries(fields).map(([k, v]) => `${k}=${value(String(v))}`).join(' ');
}

/** The content of pgpilot.conf. */
export function renderConf(settings: ConfSettings): string {
  const merged = new Map<string, ParameterValue>([
    ['listen_addresses', settings.listen],
    ['port', settings.port],
    ['unix_socket_directories', settings.socketDir],
    ['hba_file', hbaPath(settings.dataDir)],
    ['log_destination', 'stderr'],
    ['logging_collector', false],
    ...Object.entries(replicaSettings(settings.primary)),
    ...Object.entries(archiveSettings(settings.archive)),
    ...Object.entries(DEFAULTS),
  ]);
  for (const [rawName, value] of Object.entries(settings.parameters)) {
    const name = checkedName(rawName);
    if (OWNED.has(name) || (settings.archive !== undefined && OWNED_WHEN_ARCHIVING.has(name))) {
      throw badParameter(rawName, 'is managed by pgpilot and cannot be set');
    }
    merged.set(name, value);
  }
  const lines = [...merged].map(([name, value]) => `${name} = ${quoteValue(name, value)}`);
  return `# Managed by pgpilot: rewritten by the agent, edits are lost. Set parameters in the manifest.\n${lines.join('\n')}\n`;
}

/** Writes pgpilot.conf and makes sure postgresql.conf includes it (the include line is appended once). */
export async function writeConf(settings: ConfSettings, owner: RunAs): Promise<void> {
  await writeOwnedFile(path.join(settings.dataDir, CONF_FILE), renderConf(settings), 0o600, owner);
  const main = path.join(settings.dataDir, 'postgresql.conf');
  const text = await readTextFile(main);
  if (text.split('\n').some((l) => l.trim() === INCLUDE_LINE)) return;
  const separator = text.endsWith('\n') ? '' : '\n';
  await writeOwnedFile(main, `${text}${separator}\n# Added by pgpilot: its managed settings.\n${INCLUDE_LINE}\n`, 0o600, owner);
}

/** Creates (on) or removes (off) standby.signal, which makes PostgreSQL start as a standby. */
export async function standbySignal(dataDir: string, on: boolean, owner: RunAs): Promise<void> {
  const file = path.join(dataDir, 'standby.signal');
  if (on) await writeOwnedFile(file, '', 0o600, owner);
  else await fs.rm(file, { force: true });
}

function replicaSettings(primary: PrimaryConnection | undefined): Record<string, ParameterValue> {
  if (primary === undefined) return {};
  const info = conninfo({
    host: primary.host,
    port: primary.port,
    user: primary.user,
    application_name: primary.appName,
    passfile: primary.passFile,
  });
  return { primary_conninfo: info, ...(primary.slot === undefined ? {} : { primary_slot_name: primary.slot }) };
}

function archiveSettings(archive: ConfSettings['archive']): Record<string, ParameterValue> {
  if (archive === undefined) return {};
  return { archive_mode: 'on', archive_command: archive.command, archive_timeout: ARCHIVE_TIMEOUT_S };
}

function checkedName(name: string): string {
  const lower = name.toLowerCase();
  if (!/^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$/.test(lower)) throw badParameter(name, 'is not a parameter name');
  return lower;
}

function badParameter(name: string, why: string): PgpilotError {
  return new PgpilotError('Config', `PostgreSQL parameter "${name}" ${why}`, {
    hint: 'fix spec.postgres.parameters in the manifest',
  });
}
