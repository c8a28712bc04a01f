// The `backup` replica method: a standby's data directory from the newest backup and the archived WAL (ha injects it).
import { readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../base/log.js';
import { waitFor } from '../base/wait.js';
import { completeBackups } from '../backup/catalog.js';
import { openRepo } from '../backup/repo.js';
import { restoreToDir, withoutRestoreSettings } from '../backup/restore-to-dir.js';
import { describeEnd, type WalChain } from '../backup/wal-chain.js';
import { archivedChain, backupsOnNewestHistory, fetchWalFiles } from '../backup/wal-fetch.js';
import type { AgentConfig, BackupRepoSpec } from '../config/types.js';
import type { BackupCloneRequest, RetainedWal } from '../ha/postgres-member.js';
import { formatLsn } from '../model/lsn.js';
import { defaultSegmentSize, parseSegmentName } from '../model/wal.js';
import { chownR, isRoot, resolveRunAs } from '../pg/os-user.js';

/** Segments before the slot's restart point are complete, so the archiver pushes them at once: this is generous. */
const archiveCatchUpMs = 60_000;

/**
 * The standby catches up without a restore_command (PostgreSQL's OS user cannot read the repository's secrets): it
 * replays what pg_wal holds, then streams from the first segment missing there. Its slot on the leader keeps every
 * segment from the slot's restart LSN on, and the archive is copied only once it reaches that segment, so whatever
 * pg_wal lacks the leader still has. When the archive does not get there in time, or any step fails, the method fails
 * and the next one (pg_basebackup) runs on an emptied directory.
 */
export function replicaFromBackup(spec: BackupRepoSpec, config: AgentConfig, logger: Logger): (request: BackupCloneRequest) => Promise<boolean> {
  return async ({ dataDir, systemId, retainedWal }) => {
    const repo = await openRepo(spec);
    const backup = (await backupsOnNewestHistory(repo, await completeBackups(repo.storage), undefined)).filter((b) => b.systemId === systemId).at(-1);
    if (backup === undefined) {
      logger.info('no complete backup of this cluster in the repository', { repo: spec.name, systemId });
      return false;
    }
    await restoreToDir({ repo, label: backup.label, dir: dataDir, jobs: config.backup.jobs, log: logger });
    // A standby archives like its cluster and reads the pg_hba.conf pgpilot writes: drop the restore's own settings.
    const auto = path.join(dataDir, 'postgresql.auto.conf');
    await writeFile(auto, withoutRestoreSettings(await readFile(auto, 'utf8')), { mode: 0o600 });
    // The archived WAL up to where the leader's slot holds it, and on: the standby replays it from pg_wal.
    const held = await retainedWal();
    const from = { tli: backup.timeline, startSegNo: parseSegmentName(backup.startWal).segNo };
    const chain = await waitFor(`the archive to reach ${formatLsn(held.lsn)} on timeline ${held.timeline}, where the leader keeps WAL for this replica`, async () => {
      const c = await archivedChain(repo, from);
      return archiveReaches(c, held) ? c : undefined;
    }, { timeoutMs: archiveCatchUpMs, intervalMs: 1000, hint: 'check that the leader archives (pgpilot archive-status)' });
    const walDir = path.join(dataDir, 'pg_wal');
    const have = new Set(await readdir(walDir));
    await fetchWalFiles(repo, [...chain.histories, ...chain.segments].filter((n) => !have.has(n)), walDir, config.backup.jobs);
    if (isRoot()) await chownR(dataDir, await resolveRunAs(config.postgres.runAs));
    logger.info('replica created from backup', { repo: spec.name, label: backup.label, walSegments: chain.segments.length, archiveEnd: describeEnd(chain) });
    return true;
  };
}

/** The archive ends on the leader's timeline, at or past the start of the segment the leader's slot keeps WAL from. */
export function archiveReaches(chain: WalChain, held: RetainedWal, segSize = defaultSegmentSize): boolean {
  const size = BigInt(segSize);
  return chain.timeline === held.timeline && chain.endLsn >= (held.lsn / size) * size;
}
