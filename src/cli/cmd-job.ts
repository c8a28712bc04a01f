// The internal `pgpilot job KIND` command: one backup-engine task run by an agent as a child process, result on stdout.
import path from 'node:path';
import { PgpilotError, errorMessage } from '../base/errors.js';
import type { Logger } from '../base/log.js';
import { listCatalog } from '../backup/catalog.js';
import { expireRepo } from '../backup/expire.js';
import { recoveryWindow } from '../backup/recovery-window.js';
import { expireDumps, listDumps } from '../backup/logical-catalog.js';
import { takeDump } from '../backup/logical-dump.js';
import { restoreDump } from '../backup/logical-restore.js';
import { type Repo, openRepo } from '../backup/repo.js';
import { takeBackup } from '../backup/take-backup.js';
import { summaryDir } from '../backup/wal-summary.js';
import { verifyRepo } from '../backup/verify.js';
import { loadAgentConfig } from '../config/agent-config.js';
import type { AgentConfig, BackupRepoSpec } from '../config/types.js';
import { readSecret, resolveRunAs } from '../pg/os-user.js';
import { type ConnectOptions, connect } from '../pg/query.js';
import { type JobKind, isBackupType, jobKinds } from '../api/jobs.js';
import { stringFlag, type ParsedArgs } from './args.js';
import { summarizeEntry, summarizeManifest } from './backup-summary.js';
import type { Io } from './io.js';
import { backupOnStandby, primaryConn } from './standby-backup.js';


type Options = Record<string, unknown>;

/** Runs the job; prints `{"ok":true,"result":...}` or `{"ok":false,"error":...}` as the last stdout line. */
export async function cmdJob(args: ParsedArgs, io: Io, logger: Logger): Promise<number> {
  const kind = args.positionals[0] ?? '';
  try {
    if (!(jobKinds as readonly string[]).includes(kind)) {
      throw new PgpilotError('Usage', `unknown job kind "${kind}"`, { hint: `one of ${jobKinds.join(', ')}` });
    }
    const file = stringFlag(args, 'config');
    if (file === undefined) throw new PgpilotError('Usage', 'pgpilot job: --config FILE is required');
    const options = parseOptions(stringFlag(args, 'options') ?? '{}');
    const config = await loadAgentConfig(file);
    const log = logger.child({ cluster: config.scope, member: config.name, job: kind });
    const result = await runJob(kind as JobKind, config, options, log);
    io.out(JSON.stringify({ ok: true, result }));
    return 0;
  } catch (e) {
    const error = e instanceof PgpilotError ? { code: e.code, message: e.message, ...(e.hint === undefined ? {} : { hint: e.hint }) } : { code: 'Program', message: errorMessage(e) };
    io.out(JSON.stringify({ ok: false, error }));
    return e instanceof PgpilotError ? e.exitCode : 1;
  }
}

function parseOptions(text: string): Options {
  const v: unknown = JSON.parse(text);
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new PgpilotError('Usage', '--options must be a JSON object');
  return v as Options;
}

const optString = (o: Options, key: string): string | undefined => (typeof o[key] === 'string' && o[key] !== '' ? o[key] : undefined);

async function runJob(kind: JobKind, config: AgentConfig, options: Options, log: Logger): Promise<unknown> {
  switch (kind) {
    case 'backup':
      return jobBackup(config, options, log);
    case 'verify':
      return forRepos(config, options, true, async (repo) => verifyRepo(repo, { ...(optString(options, 'set') === undefined ? {} : { set: optString(options, 'set') as string }), log }));
    case 'expire':
      return forRepos(config, options, true, async (repo, spec) => expireRepo(repo, spec, new Date(), log));
    case 'list':
      return forRepos(config, options, false, async (repo) => {
        const catalog = await listCatalog(repo.storage);
        const complete = catalog.flatMap((e) => (e.status === 'complete' ? [e.manifest] : []));
        return { location: repo.storage.location, backups: catalog.map(summarizeEntry), window: (await recoveryWindow(repo, complete)) ?? null };
      });
    case 'dump':
      return jobDump(config, options, log);
    case 'dumps':
      return forRepos(config, { repo: logicalRepo(config).name }, false, async (repo) => ({ location: repo.storage.location, dumps: await listDumps(repo) }));
    case 'dump-restore':
      return jobDumpRestore(config, options, log);
  }
}

/** The repositories a job works on: `options.repo`, or all. Errors of one repository are reported, not fatal. */
async function forRepos<T>(config: AgentConfig, options: Options, stopOnError: boolean, work: (repo: Repo, spec: BackupRepoSpec) => Promise<T>): Promise<{ repos: (({ name: string } & T) | { name: string; error: string })[] }> {
  const specs = chooseRepos(config, optString(options, 'repo'));
  const repos: (({ name: string } & T) | { name: string; error: string })[] = [];
  for (const spec of specs) {
    try {
      const repo = await openRepo(spec);
      repos.push({ name: spec.name, ...(await work(repo, spec)) });
    } catch (e) {
      if (stopOnError && specs.length === 1) throw e;
      repos.push({ name: spec.name, error: e instanceof PgpilotError ? e.format() : errorMessage(e) });
    }
  }
  return { repos };
}

function chooseRepos(config: AgentConfig, name: string | undefined): BackupRepoSpec[] {
  const all = config.backup.repos;
  if (all.length === 0) throw new PgpilotError('Config', `cluster ${config.scope} has no backup repository`, { hint: 'add spec.backup.repos to the manifest' });
  if (name === undefined) return all;
  const found = all.find((r) => r.name === name);
  if (found === undefined) throw new PgpilotError('NotFound', `no backup repository "${name}"`, { hint: `repositories: ${all.map((r) => r.name).join(', ')}` });
  return [found];
}

function logicalRepo(config: AgentConfig): BackupRepoSpec {
  const name = config.backup.logical.repo;
  return chooseRepos(config, name === '' ? config.backup.repos[0]?.name : name)[0] as BackupRepoSpec;
}

/** This member's PostgreSQL over TCP as the superuser. */
async function superuserConn(config: AgentConfig): Promise<{ host: string; port: number; user: string; password: string; database: string }> {
  const listen = config.postgres.listen;
  const host = listen === '0.0.0.0' || listen === '*' || listen === '::' ? '127.0.0.1' : listen;
  return { host, port: config.postgres.port, user: 'postgres', password: await readSecret(config.secrets.superuserPasswordFile), database: 'postgres' };
}

/** The cluster's identity as the repository records it, and whether this member is a replica. */
async function identity(conn: ConnectOptions): Promise<{ systemId: string; pgVersion: number; inRecovery: boolean }> {
  const client = await connect(conn);
  let rows;
  try {
    rows = (await client.query<{ id: string; v: string; rec: boolean }>(
      "SELECT system_identifier::text AS id, current_setting('server_version_num') AS v, pg_is_in_recovery() AS rec FROM pg_control_system()",
    )).rows;
  } finally {
    await client.end().catch(() => undefined);
  }
  const row = rows[0];
  if (row === undefined) throw new PgpilotError('Postgres', 'pg_control_system() returned nothing');
  return { systemId: row.id, pgVersion: Number(row.v), inRecovery: row.rec };
}

async function jobBackup(config: AgentConfig, options: Options, log: Logger): Promise<unknown> {
  const type = optString(options, 'type') ?? 'full';
  if (!isBackupType(type)) throw new PgpilotError('Usage', `backup type "${type}" is not full, diff or incr`);
  const standby = options['standby'] === true;
  const repoName = optString(options, 'repo');
  if (config.backup.fromStandby && !standby) {
    const done = await backupOnStandby(config, { type, ...(repoName === undefined ? {} : { repo: repoName }) }, log);
    if (done !== undefined) return done;
  }
  const spec = chooseRepos(config, repoName ?? config.backup.repos[0]?.name)[0] as BackupRepoSpec;
  const conn = await superuserConn(config);
  const id = await identity(conn);
  if (id.inRecovery !== standby) {
    throw new PgpilotError('State', standby ? `member ${config.name} is not a replica: it cannot take a backup for the leader` : `member ${config.name} is a replica: backups are taken on the primary`, {
      hint: standby ? 'run the backup again: the leader chooses a streaming replica each time' : 'send the request to the leader',
    });
  }
  const primary = standby ? await primaryConn(config, conn.password) : undefined;
  const repo = await openRepo(spec, { create: { systemId: id.systemId, pgVersion: id.pgVersion } });
  const started = Date.now();
  const manifest = await takeBackup({ type, repo, member: config.name, dataDir: config.postgres.dataDir, conn, ...(primary === undefined ? {} : { primary }), jobs: config.backup.jobs, summaryDir: summaryDir(config.backup.spoolDir), log });
  const expired = await expireRepo(repo, spec, new Date(), log);
  return { repo: repo.name, ...summarizeManifest(manifest), durationMs: Date.now() - started, readSize: manifest.readSize, expired: expired.expired };
}

async function jobDump(config: AgentConfig, options: Options, log: Logger): Promise<unknown> {
  const spec = logicalRepo(config);
  const conn = await superuserConn(config);
  const id = await identity(conn);
  const repo = await openRepo(spec, { create: { systemId: id.systemId, pgVersion: id.pgVersion } });
  const databases = Array.isArray(options['databases']) ? (options['databases'] as unknown[]).map(String) : config.backup.logical.databases;
  const passFile = path.join(path.dirname(path.resolve(config.postgres.dataDir)), 'pgpass');
  const dump = await takeDump({ repo, conn: { host: conn.host, port: conn.port, user: 'postgres', passFile, binDir: config.postgres.binDir }, databases, runAs: await resolveRunAs(config.postgres.runAs), log });
  const expired = await expireDumps(repo, config.backup.logical.retention, log);
  return { repo: repo.name, ...dump, expired };
}

async function jobDumpRestore(config: AgentConfig, options: Options, log: Logger): Promise<unknown> {
  const label = optString(options, 'label');
  const database = optString(options, 'database');
  if (label === undefined || database === undefined) throw new PgpilotError('Usage', 'dump-restore needs a label and a database');
  const target = optString(options, 'target') ?? database;
  const repo = await openRepo(logicalRepo(config));
  const conn = await superuserConn(config);
  const passFile = path.join(path.dirname(path.resolve(config.postgres.dataDir)), 'pgpass');
  await restoreDump({
    repo,
    label,
    database,
    target,
    conn: { host: conn.host, port: conn.port, user: 'postgres', passFile, binDir: config.postgres.binDir },
    runAs: await resolveRunAs(config.postgres.runAs),
    clean: options['clean'] === true,
    log,
  });
  return { label, database, target };
}
