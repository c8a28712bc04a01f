// The restore benchmark's WAL: pgbench until enough is written, the target, pgpilot's archive pushed to pgBackRest.
import fs from 'node:fs/promises';
import path from 'node:path';
import { openRepo } from '../../src/backup/repo.js';
import { getWal } from '../../src/backup/wal-archive.js';
import { archivedChain } from '../../src/backup/wal-fetch.js';
import { loadManifest } from '../../src/config/manifest.js';
import { parseLsn } from '../../src/model/lsn.js';
import { defaultSegmentSize } from '../../src/model/wal.js';
import { resolveRunAs } from '../../src/pg/os-user.js';
import type { WriterTarget } from '../ha/writer.js';
import { pgbench, repoSegments, sql, type PgbenchRun } from '../backup/workload.js';

/** What the pgbench tables hold: equal on two servers only if they hold the same committed transactions. */
export interface Fingerprint {
  /** Rows of pgbench_history: one per pgbench transaction. */
  transactions: string;
  deltaSum: string;
  branchBalance: string;
}

export async function fingerprint(t: WriterTarget): Promise<Fingerprint> {
  const [row] = await sql<Fingerprint>(t, `SELECT (SELECT count(*) FROM pgbench_history)::text AS transactions,
    (SELECT coalesce(sum(delta), 0) FROM pgbench_history)::text AS "deltaSum", (SELECT sum(bbalance) FROM pgbench_branches)::text AS "branchBalance"`);
  if (row === undefined) throw new Error('the fingerprint query returned nothing');
  return row;
}

export const sameFingerprint = (a: Fingerprint | undefined, b: Fingerprint | undefined): boolean =>
  a !== undefined && b !== undefined && a.transactions === b.transactions && a.deltaSum === b.deltaSum && a.branchBalance === b.branchBalance;

export interface WalLoad {
  /** Each pgbench run (4 clients, 2 threads, -T seconds), until enough WAL was written. */
  runs: Array<Pick<PgbenchRun, 'args' | 'seconds' | 'transactions' | 'tps'>>;
  seconds: number;
  transactions: number;
  startLsn: string;
  /** pg_current_wal_lsn() right after the last pgbench run: the recovery target of both tools. */
  targetLsn: string;
  walBytes: number;
  /** The database at the target (nothing writes the pgbench tables after it). */
  atTarget: Fingerprint;
}

const walSince = async (t: WriterTarget, from: string): Promise<{ lsn: string; bytes: number }> => {
  const [r] = await sql<{ lsn: string; bytes: string }>(t, `SELECT pg_current_wal_lsn()::text AS lsn, pg_wal_lsn_diff(pg_current_wal_lsn(), '${from}')::bigint::text AS bytes`);
  return { lsn: r?.lsn ?? from, bytes: Number(r?.bytes ?? NaN) };
};

/** Runs `pgbench -c 4 -j 2 -T N -n` again and again until at least `minBytes` of WAL were written since the start. */
export async function loadUntil(t: WriterTarget, minBytes: number, log: (msg: string) => void): Promise<WalLoad> {
  const start = (await walSince(t, '0/0')).lsn;
  const runs: WalLoad['runs'] = [];
  let written = 0;
  let chunk = 10;
  while (written < minBytes) {
    const { args, seconds, transactions, tps } = await pgbench(t, ['-c', '4', '-j', '2', '-T', String(chunk), '-n']);
    runs.push({ args, seconds, transactions, tps });
    written = (await walSince(t, start)).bytes;
    const total = runs.reduce((s, r) => s + r.seconds, 0);
    log(`  ${(written / 1e6).toFixed(0)} of ${(minBytes / 1e6).toFixed(0)} MB of WAL after ${total.toFixed(0)} s of pgbench`);
    // The next run takes about as long as the rest needs at the rate so far (5 to 60 s).
    chunk = Math.min(60, Math.max(5, Math.ceil(((minBytes - written) / Math.max(1, written)) * total)));
  }
  const end = await walSince(t, start);
  return {
    runs, seconds: runs.reduce((s, r) => s + r.seconds, 0), transactions: runs.reduce((s, r) => s + r.transactions, 0),
    startLsn: start, targetLsn: end.lsn, walBytes: end.bytes, atTarget: await fingerprint(t),
  };
}

export interface ArchiveCopy {
  /** The first segment copied: that of the earlier of the two backups' start LSNs. */
  first: string;
  last: string;
  segments: number;
  bytes: number;
  seconds: number;
}

/**
 * Every segment of pgpilot's archive from the segment of `fromLsn` (timeline `tli`) to the end of the archive, fetched
 * out of pgpilot's repository into `staging` as the plain 16 MiB file (owned by postgres), handed to `push` and
 * deleted, two at a time; then checks that `pushedDir` (the other repository's archive) holds them all.
 */
export async function copyArchive(o: { manifest: string; tli: number; fromLsn: string; staging: string; pushedDir: string; push(file: string): Promise<void> }): Promise<ArchiveCopy> {
  const t0 = performance.now();
  const spec = (await loadManifest(o.manifest)).spec.backup.repos[0];
  if (spec === undefined) throw new Error(`${o.manifest} has no repository`);
  const repo = await openRepo(spec);
  const { segments } = await archivedChain(repo, { tli: o.tli, startSegNo: parseLsn(o.fromLsn) / BigInt(defaultSegmentSize) });
  const owner = await resolveRunAs('postgres');
  await fs.mkdir(o.staging, { mode: 0o700 });
  await fs.chown(o.staging, owner.uid, owner.gid);
  let next = 0;
  await Promise.all(Array.from({ length: 2 }, async () => {
    while (next < segments.length) {
      const name = segments[next++] as string;
      const file = path.join(o.staging, name);
      if (!(await getWal(repo, name, file))) throw new Error(`WAL segment ${name} vanished from pgpilot's repository`);
      await fs.chown(file, owner.uid, owner.gid);
      await o.push(file);
      await fs.rm(file);
    }
  }));
  await fs.rm(o.staging, { recursive: true, force: true });
  const stored = await repoSegments(o.pushedDir);
  const absent = segments.filter((s) => !stored.has(s));
  if (absent.length > 0) throw new Error(`after archive-push, ${absent.length} segment(s) are not in ${o.pushedDir}: ${absent.slice(0, 5).join(', ')}`);
  return { first: segments[0] ?? '', last: segments.at(-1) ?? '', segments: segments.length, bytes: segments.length * defaultSegmentSize, seconds: (performance.now() - t0) / 1000 };
}
