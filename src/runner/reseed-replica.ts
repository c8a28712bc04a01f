// After an in-place restore: another member's data directory brought to the restored primary's end by a delta restore.
import fs from 'node:fs/promises';
import path from 'node:path';
import { PgpilotError } from '../base/errors.js';
import type { Logger } from '../base/log.js';
import { sleep } from '../base/wait.js';
import type { Repo } from '../backup/repo.js';
import { restoreToDir, withoutRestoreSettings } from '../backup/restore-to-dir.js';
import { type ArchivedChain, fetchWalFiles } from '../backup/wal-fetch.js';
import { type Lsn, formatLsn, parseLsn } from '../model/lsn.js';
import { parseWalFileName, segmentStartLsn } from '../model/wal.js';
import { type RunAs, chownR } from '../pg/os-user.js';
import { type ConnectOptions, connect } from '../pg/query.js';
import { temporaryServer } from './temporary-server.js';

export interface ReseedRequest {
  repo: Repo;
  /** The backup the primary was restored from. */
  label: string;
  /** The WAL the primary's recovery read. */
  chain: ArchivedChain;
  /** The restored primary (stopped): its data directory, and the timeline and LSN its recovery ended at. */
  primary: { dataDir: string; timeline: number; lsn: string };
  member: { dataDir: string; socketDir: string; logFile: string };
  jobs: number;
  owner: RunAs | undefined;
  log: Logger;
}

/** Replay that stands still this long means WAL is missing. */
const stallMs = 60_000;

/**
 * The member's data directory gets a delta restore of the primary's backup (only files that differ are written), the
 * archived WAL up to the primary's end, and the primary's new timeline (its history files and segments), then
 * replays it all as a standby and stops: it starts as a replica of the restored primary, streaming from there,
 * instead of copying the whole database again. Returns the files written and the files the backup holds.
 */
export async function reseedReplica(r: ReseedRequest): Promise<{ written: number; files: number }> {
  const restored = await restoreToDir({ repo: r.repo, label: r.label, dir: r.member.dataDir, jobs: r.jobs, log: r.log, delta: true, ...(r.owner === undefined ? {} : { owner: r.owner }) });
  const auto = path.join(r.member.dataDir, 'postgresql.auto.conf');
  await fs.writeFile(auto, withoutRestoreSettings(await fs.readFile(auto, 'utf8')), { mode: 0o600 });
  const walDir = path.join(r.member.dataDir, 'pg_wal');
  const end = parseLsn(r.primary.lsn);
  const have = new Set(await fs.readdir(walDir));
  // Segments past the primary's end are not needed; those of the old timeline past the switch are never read.
  const archived = [...r.chain.histories, ...r.chain.segments.filter((n) => segmentStartLsn(n) <= end)];
  await fetchWalFiles(r.repo, archived.filter((n) => !have.has(n)), walDir, r.jobs);
  const primaryWal = path.join(r.primary.dataDir, 'pg_wal');
  for (const name of await fs.readdir(primaryWal)) {
    const w = parseWalFileName(name);
    if (w !== undefined && (w.kind === 'history' || (w.kind === 'segment' && w.tli === r.primary.timeline))) await fs.copyFile(path.join(primaryWal, name), path.join(walDir, name));
  }
  if (r.owner !== undefined) await chownR(r.member.dataDir, r.owner);
  await replayTo(r, end);
  return { written: restored.written, files: restored.files };
}

async function replayedLsn(conn: ConnectOptions): Promise<Lsn> {
  const c = await connect(conn);
  try {
    return parseLsn((await c.query<{ l: string }>('SELECT pg_last_wal_replay_lsn()::text AS l')).rows[0]?.l ?? '0/0');
  } finally {
    await c.end();
  }
}

/** Starts the directory as a standby that does not stream, waits until it has replayed up to `end`, stops it. */
async function replayTo(r: ReseedRequest, end: Lsn): Promise<void> {
  const server = await temporaryServer({ ...r.member, owner: r.owner, log: r.log, signal: 'standby.signal', settings: ["primary_conninfo = ''", "recovery_target_timeline = 'latest'"] });
  try {
    await server.start(6 * 3600_000);
    let last = { lsn: -1n, at: Date.now() };
    for (;;) {
      const lsn = await replayedLsn(server.conn);
      if (lsn >= end) return;
      if (lsn !== last.lsn) last = { lsn, at: Date.now() };
      else if (Date.now() - last.at > stallMs) throw new PgpilotError('Backup', `replay stopped at ${formatLsn(lsn)}, before ${formatLsn(end)}: WAL is missing`);
      await sleep(100);
    }
  } finally {
    await server.stop();
  }
}
