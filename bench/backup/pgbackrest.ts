// The pgBackRest side of the backup and restore benchmarks: a stanza on the pgpilot member's data directory (run as the
// postgres user, its repository in its own directory, zst level 1, process-max 2), its backups and restores, measured;
// WAL pushed by hand; that data directory started as a standalone PostgreSQL that archives through pgBackRest
// (archive-async, process-max 2), and PostgreSQL started on any data directory as the postgres user.
import { execFile } from 'node:child_process';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { resolveRunAs } from '../../src/pg/os-user.js';
import { timedRestore, type BackupRun, type RestoreRun } from './runs.js';
import { dirBytes, peakOf, runOk, watching, type ProcessMatch } from './sample.js';

const stanza = 'bench';
const pgBin = '/usr/lib/postgresql/15/bin';

/** "2.45", or undefined when the pgbackrest executable is missing. */
export async function pgbackrestVersion(): Promise<string | undefined> {
  try {
    const r = await promisify(execFile)('pgbackrest', ['version'], { timeout: 20_000 });
    return r.stdout.trim().replace(/^pgBackRest /, '');
  } catch {
    return undefined;
  }
}

export interface Member {
  dataDir: string;
  runDir: string;
  port: number;
}

export interface PgbackrestSide {
  config: string;
  configText: string;
  /** Every pgbackrest process of this configuration (main, local and async ones). */
  processes: ProcessMatch;
  repoDir: string;
  backup(type: 'full' | 'incr'): Promise<BackupRun>;
  /** Restores backup `label` into the empty directory `dir`, with `args` added to the command; see timedRestore. */
  restore(label: string, dir: string, args?: string[], sync?: boolean): Promise<RestoreRun>;
  /** `archive-push` of one WAL file (synchronous, whatever archive-async says), as PostgreSQL's archive_command would. */
  archivePush(file: string): Promise<void>;
  /** Starts the member's data directory as a plain PostgreSQL whose archive_command is pgBackRest's archive-push. */
  startStandalone(): Promise<{ stop(): Promise<void> }>;
}

interface InfoBackup {
  label: string;
  type: string;
  info: { size: number; delta: number; repository: { size: number; delta: number } };
  timestamp: { start: number; stop: number };
}

/** Writes the configuration (in `dir`, owned by postgres) and creates the stanza. */
export async function setupPgbackrest(dir: string, member: Member): Promise<PgbackrestSide> {
  const pgUser = await resolveRunAs('postgres');
  const repoDir = path.join(dir, 'repo');
  for (const d of [dir, repoDir, path.join(dir, 'log'), path.join(dir, 'spool')]) {
    await fsp.mkdir(d, { recursive: true, mode: 0o750 });
    await fsp.chown(d, pgUser.uid, pgUser.gid);
  }
  const config = path.join(dir, 'pgbackrest.conf');
  const configText = [
    '[global]',
    `repo1-path=${repoDir}`, 'repo1-retention-full=9',
    `log-path=${path.join(dir, 'log')}`, `spool-path=${path.join(dir, 'spool')}`, `lock-path=${path.join(dir, 'spool')}`,
    'log-level-console=warn', 'log-level-file=info',
    'start-fast=y', 'compress-type=zst', 'compress-level=1', 'process-max=2', 'archive-async=y',
    `[${stanza}]`,
    `pg1-path=${member.dataDir}`, `pg1-port=${member.port}`, `pg1-socket-path=${member.runDir}`, 'pg1-user=postgres',
    '',
  ].join('\n');
  await fsp.writeFile(config, configText);
  await fsp.chown(config, pgUser.uid, pgUser.gid);
  const pgbackrest = (...args: string[]): string[] => asPostgres('pgbackrest', `--config=${config}`, `--stanza=${stanza}`, ...args);
  const info = async (): Promise<InfoBackup[]> => {
    const r = await runOk(pgbackrest('info', '--output=json'));
    return (JSON.parse(r.stdout) as Array<{ backup: InfoBackup[] }>)[0]?.backup ?? [];
  };
  await runOk(pgbackrest('stanza-create'));
  const processes = { program: 'pgbackrest', parts: [`--config=${config}`] };
  return {
    config, configText, repoDir, processes,
    async backup(type) {
      const { result: r, watched } = await watching(processes, () => runOk(pgbackrest(`--type=${type}`, '--no-archive-check', 'backup')));
      const last = (await info()).at(-1);
      if (last === undefined || last.type !== type) throw new Error(`pgbackrest info shows no ${type} backup after the backup command`);
      return {
        label: last.label, wallMs: r.ms, dirBytes: await dirBytes(path.join(repoDir, 'backup', stanza, last.label)),
        reported: last as unknown as Record<string, unknown>, io: r.io, peakRssBytes: peakOf(watched), watched,
      };
    },
    async restore(label, dir, args = [], sync = true) {
      await fsp.mkdir(dir, { mode: 0o700 });
      await fsp.chown(dir, pgUser.uid, pgUser.gid);
      return timedRestore(pgbackrest(`--pg1-path=${dir}`, `--set=${label}`, ...args, 'restore'), {}, processes, dir, sync);
    },
    async archivePush(file) {
      await runOk(pgbackrest('--no-archive-async', 'archive-push', file));
    },
    startStandalone() {
      const archive = `pgbackrest --config=${config} --stanza=${stanza} archive-push %p`;
      return startPostgres(member.dataDir, path.join(dir, 'standalone.log'), { archive_command: archive });
    },
  };
}

const asPostgres = (...args: string[]): string[] => ['runuser', '-u', 'postgres', '--', ...args];

/**
 * Starts PostgreSQL on `dataDir` as the postgres user (`pg_ctl start`, its output in `logFile`), with `settings` on
 * its command line (-c name='value'); waits until it accepts connections unless `wait` is false. stop() is a fast
 * shutdown.
 */
export async function startPostgres(dataDir: string, logFile: string, settings: Record<string, string>, wait = true): Promise<{ stop(): Promise<void> }> {
  const options = Object.entries(settings).map(([k, v]) => `-c ${k}='${v}'`).join(' ');
  await runOk(asPostgres(`${pgBin}/pg_ctl`, '-D', dataDir, '-l', logFile, ...(wait ? ['-w', '-t', '600'] : ['-W']), '-o', options, 'start'));
  return {
    async stop() {
      await runOk(asPostgres(`${pgBin}/pg_ctl`, '-D', dataDir, '-m', 'fast', '-w', '-t', '600', 'stop'));
    },
  };
}
