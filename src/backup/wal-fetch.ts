// Archived WAL for a recovery: which backups lie on the newest timeline's history, the chain from a backup's start to
// the end of the archive, fetched into a directory.
import fs from 'node:fs/promises';
import path from 'node:path';
import { mapConcurrently } from '../base/concurrency.js';
import { PgpilotError } from '../base/errors.js';
import { type RunAs, chownR } from '../pg/os-user.js';
import { archivedHistories } from './recovery-window.js';
import type { BackupManifest } from './backup-manifest.js';
import type { Repo } from './repo.js';
import { getWal, listWal } from './wal-archive.js';
import { type WalChain, backupsOnHistory, walChain } from './wal-chain.js';

export interface ArchivedChain extends WalChain {
  /** Every archived timeline history file: recovery reads them to follow the timeline switches. */
  histories: string[];
}

/** The segments recovery reads from `startSegNo` of timeline `tli` on, along the latest timeline (see walChain). */
export async function archivedChain(repo: Repo, from: { tli: number; startSegNo: bigint }, untilSegNo?: bigint): Promise<ArchivedChain> {
  const archived = await listWal(repo);
  const chain = walChain(archived, await archivedHistories(repo, archived), from, untilSegNo);
  return { ...chain, histories: archived.filter((w) => w.kind === 'history').map((h) => h.name) };
}

/** The complete backups recovery can start from, given the archived timeline histories (see backupsOnHistory). */
export async function backupsOnNewestHistory(repo: Repo, backups: BackupManifest[], set: string | undefined): Promise<BackupManifest[]> {
  return backupsOnHistory(backups, await archivedHistories(repo), set);
}

/** Fetches WAL files into `dir`, `jobs` at a time: PostgreSQL then reads them with a plain copy, or from pg_wal. */
export async function fetchWalFiles(repo: Repo, names: readonly string[], dir: string, jobs: number, owner?: RunAs): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  await mapConcurrently(names, jobs, async (name) => {
    if (!(await getWal(repo, name, path.join(dir, name)))) throw new PgpilotError('Archive', `WAL file ${name} vanished from repository ${repo.name} during the restore`);
  });
  if (owner !== undefined) await chownR(dir, owner);
}
