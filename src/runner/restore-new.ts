// `pgpilot restore NAME --to-new NEW`: restore a backup, recover to a target, and start a new cluster on the result.
import fs from 'node:fs/promises';
import path from 'node:path';
import { PgpilotError, errorMessage } from '../base/errors.js';
import type { Logger } from '../base/log.js';
import { waitFor } from '../base/wait.js';
import { completeBackups } from '../backup/catalog.js';
import { type RecoveryTarget, chooseBackup, describeTarget, recoverySettings } from '../backup/recovery-target.js';
import { type Repo, openRepo } from '../backup/repo.js';
import { requireRestorePoint } from '../backup/restore-points.js';
import { restoreToDir } from '../backup/restore-to-dir.js';
import { describeEnd } from '../backup/wal-chain.js';
import { type ArchivedChain, archivedChain, backupsOnNewestHistory } from '../backup/wal-fetch.js';
import { type WalPrefetch, startWalPrefetch } from '../backup/wal-prefetch.js';
import type { BackupManifest } from '../backup/backup-manifest.js';
import { loadManifest } from '../config/manifest.js';
import type { BackupRepoSpec, Manifest } from '../config/types.js';
import { formatLsn, parseLsn } from '../model/lsn.js';
import { historyFileName, parseSegmentName } from '../model/wal.js';
import { type RunAs, isRoot, resolveRunAs } from '../pg/os-user.js';
import { readPostmasterPid, stopPostgres } from '../pg/postmaster.js';
import { connect, type PgClient } from '../pg/query.js';
import { ensureRole } from '../pg/roles.js';
import { type ClusterPaths, clusterPaths, memberName } from './layout.js';
import { readState } from './state.js';
import { temporaryServer } from './temporary-server.js';
import { checkPortsFree, prepareFiles, up, type UpResult } from './up.js';

export interface RestoreNewRequest {
  /** The source cluster's manifest: where its repositories are. */
  sourceManifest: Manifest;
  repo: string | undefined;
  set: string | undefined;
  target: RecoveryTarget;
  /** The new cluster's manifest file. */
  newManifestFile: string;
  home: string;
  jobs: number;
  log: Logger;
  now?: () => Date;
}

export interface RestoreNewResult {
  backup: string;
  recoveredTo: { timeline: number; lsn: string };
  up: UpResult;
}

const RECOVERY_TIMEOUT_MS = 6 * 3600_000;

/** Validates everything first; the new cluster's directory is removed again if anything fails before it starts. */
export async function restoreToNew(req: RestoreNewRequest): Promise<RestoreNewResult> {
  const now = req.now ?? (() => new Date());
  // Validate: the new manifest, the repository, the backup, the target and the WAL chain, before writing anything.
  const next = await loadManifest(req.newManifestFile);
  const newName = next.metadata.name;
  const paths = clusterPaths(newName, req.home);
  if ((await readState(paths.state)) !== undefined || (await exists(paths.dir))) {
    throw new PgpilotError('State', `a cluster named ${newName} already exists under ${req.home}`, { hint: 'choose another metadata.name for the new cluster, or remove the old one with pgpilot down --destroy' });
  }
  const spec = sourceRepo(req.sourceManifest, req.repo);
  refuseSharedRepo(spec, next);
  await checkPortsFree(next);
  const { repo, target, backup, chain } = await planRecovery(spec, req.target, req.set, now(), req.log);

  // Restore the backup into the first member's data directory, with the WAL recovery reads beside it.
  const member = paths.member(memberName(newName, 0));
  const owner = isRoot() ? await resolveRunAs('postgres') : undefined;
  try {
    await prepareFiles(paths, next, req.newManifestFile);
    await fs.mkdir(member.dir, { recursive: true, mode: 0o755 });
    await restoreToDir({ repo, label: backup.label, dir: member.dataDir, jobs: req.jobs, log: req.log, ...(owner === undefined ? {} : { owner }) });
    const walDir = path.join(member.dir, 'restore-wal');
    const prefetch = await startWalPrefetch(repo, chain, walDir, req.jobs, owner);
    // Recover to the target in a private PostgreSQL (socket only, trust in a 0700 directory), then set the new
    // cluster's passwords before anything can connect over TCP.
    const recovered = await recover({ dataDir: member.dataDir, socketDir: member.socketDir, logFile: member.postgresLog, prefetch, target, owner, log: req.log }, (client) => setPasswords(client, paths, next));
    await fs.rm(walDir, { recursive: true, force: true });
    await fs.writeFile(paths.restoredMarker, JSON.stringify({ repo: spec.name, backup: backup.label, target: describeTarget(target), recoveredTo: recovered, at: now().toISOString() }, null, 2));
    // Start the new cluster: its first member adopts this data directory, the others clone it.
    return { backup: backup.label, recoveredTo: recovered, up: await up(req.newManifestFile, req.home) };
  } catch (e) {
    const pid = await readPostmasterPid(member.dataDir).catch(() => undefined);
    if (pid !== undefined) await stopPostgres(member.dataDir, 'immediate', 30_000, req.log).catch(() => undefined);
    if ((await readState(paths.state)) === undefined) await fs.rm(paths.dir, { recursive: true, force: true });
    throw e;
  }
}

export interface RecoveryPlan {
  repo: Repo;
  target: RecoveryTarget;
  backup: BackupManifest;
  chain: ArchivedChain;
}

/** Everything checked before anything is written: repository, passphrase, restore point, backup, target, WAL chain. */
export async function planRecovery(spec: BackupRepoSpec, requested: RecoveryTarget, set: string | undefined, now: Date, log: Logger): Promise<RecoveryPlan> {
  const repo = await openRepo(spec);
  const target = requested.kind === 'name' ? { ...requested, lsn: parseLsn((await requireRestorePoint(repo, requested.name)).lsn) } : requested;
  if (target.kind === 'time' && target.time.getTime() > now.getTime()) {
    throw new PgpilotError('Backup', `cannot restore to ${describeTarget(target)}: it is in the future`, { hint: 'give a time in the past (UTC unless the time names its zone)' });
  }
  const backup = chooseBackup(await backupsOnNewestHistory(repo, await completeBackups(repo.storage), set), target, set);
  const chain = await planWal(repo, backup.timeline, backup.startWal, target);
  log.info('restore plan', { backup: backup.label, target: describeTarget(target), walSegments: chain.segments.length, archiveEnd: describeEnd(chain) });
  return { repo, target, backup, chain };
}

/** The cluster's own passwords (from its secret files) on pgpilot's roles and the manifest's users. */
export async function setPasswords(client: PgClient, paths: ClusterPaths, manifest: Manifest): Promise<void> {
  await ensureRole(client, { name: 'postgres', options: ['SUPERUSER'], passwordFile: paths.superuserPassword });
  await ensureRole(client, { name: 'replicator', options: [], replication: true, passwordFile: paths.replicationPassword });
  for (const u of manifest.spec.users) await ensureRole(client, { name: u.name, options: u.options, passwordFile: paths.userPassword(u.name) });
}

export function sourceRepo(manifest: Manifest, name: string | undefined): BackupRepoSpec {
  const repos = manifest.spec.backup.repos;
  const spec = name === undefined ? repos[0] : repos.find((r) => r.name === name);
  if (spec === undefined) {
    throw new PgpilotError('NotFound', name === undefined ? `cluster ${manifest.metadata.name} has no backup repository` : `cluster ${manifest.metadata.name} has no repository "${name}"`, {
      hint: `repositories: ${repos.map((r) => r.name).join(', ') || 'none'}`,
    });
  }
  return spec;
}

/** A restored cluster keeps the source's system identifier: archiving both into one repository would mix them. */
function refuseSharedRepo(source: BackupRepoSpec, next: Manifest): void {
  const where = (r: BackupRepoSpec): string => (r.path !== '' ? path.resolve(r.path) : `s3://${r.s3.endpoint}/${r.s3.bucket}/${r.s3.prefix}`);
  const clash = next.spec.backup.repos.find((r) => where(r) === where(source));
  if (clash !== undefined) {
    throw new PgpilotError('Config', `the new cluster's repository ${clash.name} is the source's repository (${where(source)})`, {
      hint: 'give the new cluster its own repository path or prefix: both clusters share a system identifier',
    });
  }
}

export async function exists(p: string): Promise<boolean> {
  return fs.stat(p).then(() => true, () => false);
}

/** The WAL recovery reads, checked for gaps; an LSN target past the end of the archive is an error. */
async function planWal(repo: Repo, tli: number, startWal: string, target: RecoveryTarget): Promise<ArchivedChain> {
  const until = target.kind === 'lsn' || (target.kind === 'name' && target.lsn !== undefined) ? (target.lsn as bigint) / BigInt(16 * 1024 * 1024) : undefined;
  const chain = await archivedChain(repo, { tli, startSegNo: parseSegmentName(startWal).segNo }, until);
  if ((target.kind === 'lsn' || target.kind === 'name') && target.lsn !== undefined && target.lsn >= chain.endLsn) {
    throw new PgpilotError('Backup', `cannot restore to ${describeTarget(target)}: it is after the newest archived WAL, which ends at ${describeEnd(chain)}`, {
      hint: 'choose an earlier target, or wait for the archive to catch up (pgpilot archive-status)',
    });
  }
  return chain;
}


export interface RecoverOptions {
  dataDir: string;
  socketDir: string;
  logFile: string;
  /** Where recovery reads the archived WAL from; stopped when recovery ends. */
  prefetch: WalPrefetch;
  target: RecoveryTarget;
  owner: RunAs | undefined;
  log: Logger;
}

/**
 * Starts PostgreSQL on the restored directory in archive recovery towards the target, waits for it to promote, runs
 * `finish` on a superuser connection, stops it cleanly and removes the temporary settings.
 */
export async function recover(o: RecoverOptions, finish: (client: PgClient) => Promise<void>): Promise<{ timeline: number; lsn: string }> {
  const server = await temporaryServer({ ...o, signal: 'recovery.signal', settings: recoverySettings(o.target, o.prefetch.restoreCommand) });
  // A download that fails stops recovery at once: PostgreSQL must not take the missing WAL for the archive's end.
  let fetchFailed: Error | undefined;
  o.prefetch.done.catch(async (e: unknown) => {
    fetchFailed = e instanceof Error ? e : new Error(String(e));
    await stopPostgres(o.dataDir, 'immediate', 30_000, o.log).catch(() => undefined);
  });
  try {
    // PostgreSQL reports itself ready once it has promoted (in recovery it says "standby").
    await server.start(RECOVERY_TIMEOUT_MS);
    await waitFor('recovery to reach its target and promote', async () => {
      const c = await connect(server.conn);
      try {
        return (await c.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]?.r === false;
      } finally {
        await c.end();
      }
    }, { timeoutMs: 60_000, intervalMs: 100 });
  } catch (e) {
    if (fetchFailed !== undefined) throw fetchFailed;
    const tail = (await fs.readFile(o.logFile, 'utf8').catch(() => '')).split('\n').filter((l) => /FATAL|ERROR|PANIC/.test(l)).slice(-3).join('\n');
    throw new PgpilotError('Backup', `recovery to ${describeTarget(o.target)} failed${tail === '' ? `: ${errorMessage(e)}` : `:\n${tail}`}`, {
      hint: 'a target after the last archived WAL is never reached: choose an earlier one (pgpilot backups shows the window)',
    });
  } finally {
    await o.prefetch.stop();
  }
  const client = await connect(server.conn);
  let at: { timeline: number; lsn: string };
  try {
    await finish(client);
    await client.query('CHECKPOINT');
    const row = (await client.query<{ tli: number; lsn: string }>('SELECT timeline_id AS tli, pg_current_wal_lsn()::text AS lsn FROM pg_control_checkpoint()')).rows[0];
    at = { timeline: row?.tli ?? 0, lsn: row?.lsn ?? formatLsn(0n) };
  } finally {
    await client.end();
  }
  await server.stop();
  await archiveLater(o.dataDir, at.timeline, o.owner);
  return at;
}

/**
 * Recovery promoted with archiving off, so PostgreSQL did not mark the new timeline's history file for the archive:
 * mark it now, and the cluster's archiver pushes it once it starts. Without it, a later restore to a point on this
 * timeline cannot follow the switch.
 */
async function archiveLater(dataDir: string, timeline: number, owner: RunAs | undefined): Promise<void> {
  const name = historyFileName(timeline);
  if (!(await exists(path.join(dataDir, 'pg_wal', name)))) return;
  const ready = path.join(dataDir, 'pg_wal', 'archive_status', `${name}.ready`);
  await fs.writeFile(ready, '', { mode: 0o600 });
  if (owner !== undefined) await fs.chown(ready, owner.uid, owner.gid);
}

