// libpq password files (~/.pgpass format), so passwords reach pg_basebackup and walreceivers without arguments.
import { PgpilotError } from '../base/errors.js';
import { writeOwnedFile, type RunAs } from './os-user.js';

/** One pgpass line; host, port, database and user may be `*`. */
export interface PgpassEntry {
  host: string;
  port: number | '*';
  database: string;
  user: string;
  password: string;
}

/** Escapes `\` and `:`, the two characters with a meaning in a pgpass field. */
export function escapePgpassField(value: string): string {
  if (/[\r\n]/.test(value)) {
    throw new PgpilotError('Config', 'a pgpass field cannot contain a line break', {
      hint: 'use passwords and names without line breaks',
    });
  }
  return value.replace(/[\\:]/g, (c) => `\\${c}`);
}

export function renderPgpass(entries: PgpassEntry[]): string {
  const line = (e: PgpassEntry): string =>
    [e.host, String(e.port), e.database, e.user, e.password].map(escapePgpassField).join(':');
  return entries.map((e) => `${line(e)}\n`).join('');
}

/** Writes a pgpass file libpq accepts: mode 0600, owned by the user PostgreSQL programs run as. */
export async function writePgpass(file: string, entries: PgpassEntry[], owner: RunAs): Promise<void> {
  await writeOwnedFile(file, renderPgpass(entries), 0o600, owner);
}
