// The database side of the backup benchmark: SQL on fresh connections, pgbench (build and load, over TCP with the
// password in the environment), quiescing before a timed run, and the WAL-archive measurement under pgbench load.
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { sleep, waitFor } from '../../src/base/wait.js';
import { parseLsn } from '../../src/model/lsn.js';
import { defaultSegmentSize, parseSegmentName, walFileName } from '../../src/model/wal.js';
import type { WriterTarget } from '../ha/writer.js';
import { dropCaches } from './sample.js';

/** Runs one statement on a fresh connection (long timeout: CHECKPOINT after a big load takes a while). */
export async function sql<T extends pg.QueryResultRow>(t: WriterTarget, text: string, timeoutMs = 600_000): Promise<T[]> {
  const client = new pg.Client({ ...t, connectionTimeoutMillis: 10_000, query_timeout: timeoutMs });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return (await client.query<T>(text)).rows;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export interface PgbenchRun {
  args: string[];
  seconds: number;
  transactions: number;
  tps: number;
  output: string;
}

/** Runs pgbench against the target (superuser over TCP, password in PGPASSWORD, never in argv). */
export function pgbench(t: WriterTarget, args: string[]): Promise<PgbenchRun> {
  return new Promise((resolve, reject) => {
    const argv = ['-h', t.host, '-p', String(t.port), '-U', t.user, ...args, t.database];
    const t0 = performance.now();
    const child = spawn('pgbench', argv, { env: { ...process.env, PGPASSWORD: t.password ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const seconds = (performance.now() - t0) / 1000;
      if (code !== 0) return reject(new Error(`pgbench ${args.join(' ')} exited ${code}: ${out.trim().slice(-1500)}`));
      const transactions = Number(/number of transactions actually processed: (\d+)/.exec(out)?.[1] ?? NaN);
      const tps = Number(/tps = ([\d.]+)/.exec(out)?.[1] ?? NaN);
      resolve({ args, seconds, transactions, tps, output: out.trim() });
    });
  });
}

/** `pgbench -i -s SCALE -q` over TCP: the database's size and how long building it took. */
export async function buildDatabase(t: WriterTarget, scale: number): Promise<{ scale: number; sizeBytes: number; initSeconds: number }> {
  const init = await pgbench(t, ['-i', '-s', String(scale), '-q']);
  const [size] = await sql<{ bytes: string }>(t, 'SELECT pg_database_size(current_database())::text AS bytes');
  return { scale, sizeBytes: Number(size?.bytes), initSeconds: init.seconds };
}

/** The PostgreSQL settings the results files show. */
export async function shownSettings(t: WriterTarget): Promise<Record<string, string>> {
  const names = ['shared_buffers', 'max_wal_size', 'checkpoint_timeout', 'wal_level', 'wal_compression', 'full_page_writes', 'synchronous_commit', 'data_checksums', 'archive_timeout'];
  const rows = await sql<{ name: string; setting: string }>(t, `SELECT name, current_setting(name) AS setting FROM pg_settings WHERE name IN (${names.map((n) => `'${n}'`).join(', ')}) ORDER BY name`);
  return Object.fromEntries(rows.map((row) => [row.name, row.setting]));
}

const segNo = (name: string): bigint => parseSegmentName(name).segNo;

/** Switches to a new WAL segment and waits until PostgreSQL reports the previous one archived. */
export async function waitArchived(t: WriterTarget, timeoutMs = 1_800_000): Promise<void> {
  const [row] = await sql<{ seg: string }>(t, 'SELECT pg_walfile_name(pg_switch_wal()) AS seg');
  const target = row?.seg ?? '';
  await waitFor(`WAL segment ${target} archived`, async () => {
    const [s] = await sql<{ last: string | null; failed: string | null }>(t, 'SELECT last_archived_wal AS last, last_failed_wal AS failed FROM pg_stat_archiver', 10_000);
    return s?.last !== null && s?.last !== undefined && /^[0-9A-F]{24}$/.test(s.last) && segNo(s.last) >= segNo(target);
  }, { timeoutMs, intervalMs: 500 });
}

/** Before a timed run: CHECKPOINT, the archive caught up, dirty pages written, the page cache dropped. */
export async function quiesce(t: WriterTarget): Promise<{ cacheDropped: boolean }> {
  await sql(t, 'CHECKPOINT');
  await waitArchived(t);
  return { cacheDropped: await dropCaches() };
}

export interface ArchivePoint {
  /** Seconds since the load started. */
  at: number;
  lsn: string;
  currentSegment: string;
  lastArchived: string | null;
  /** Complete segments (older than the one being written) that PostgreSQL does not report archived. */
  behind: number;
  /** Same, counted against the segments present in the repository (everything up to the first gap). */
  behindRepo: number | undefined;
}

export interface ArchiveRun {
  seconds: number;
  load: PgbenchRun;
  walBytes: number;
  /** Every second while the load ran. */
  points: ArchivePoint[];
  /** Right after pgbench returned. */
  end: ArchivePoint;
  maxBehind: number;
  /** Seconds from the end of the load until PostgreSQL reported every complete segment archived. */
  catchUpSeconds: number | undefined;
  /** Failed archive_command runs during the load (pg_stat_archiver.failed_count). */
  failedCount: number;
}

/** The names of the WAL segments stored under a repository directory (any layout: `<24 hex>` starts the file name). */
export async function repoSegments(dir: string): Promise<Set<string>> {
  const out = new Set<string>();
  const walk = async (d: string): Promise<void> => {
    for (const e of await fs.readdir(d, { withFileTypes: true }).catch(() => [])) {
      if (e.isDirectory()) await walk(path.join(d, e.name));
      else if (/^[0-9A-F]{24}(-|\.|$)/.test(e.name) && !e.name.includes('.partial') && !e.name.includes('.backup')) out.add(e.name.slice(0, 24));
    }
  };
  await walk(dir);
  return out;
}

/**
 * Runs pgbench for `seconds` (4 clients, 2 threads, as fast as it goes) and samples the archive every second: the
 * segment being written (pg_current_wal_lsn) against pg_stat_archiver.last_archived_wal, and against the repository
 * directory `repoWalDir` (segments present with no gap since the load started).
 */
export async function archiveUnderLoad(t: WriterTarget, seconds: number, repoWalDir: string): Promise<ArchiveRun> {
  const [start] = await sql<{ lsn: string; seg: string; failed: string }>(t,
    'SELECT pg_current_wal_lsn()::text AS lsn, pg_walfile_name(pg_current_wal_lsn()) AS seg, (SELECT failed_count FROM pg_stat_archiver)::text AS failed');
  const startLsn = start?.lsn ?? '0/0';
  const firstSeg = segNo(start?.seg ?? '000000010000000000000001');
  const t0 = performance.now();
  const point = async (): Promise<ArchivePoint & { failed: number }> => {
    const [r] = await sql<{ lsn: string; tli: number; last: string | null; failed: string }>(t,
      'SELECT pg_current_wal_lsn()::text AS lsn, (SELECT timeline_id FROM pg_control_checkpoint()) AS tli, last_archived_wal AS last, failed_count::text AS failed FROM pg_stat_archiver', 10_000);
    const at = (performance.now() - t0) / 1000;
    const lsn = r?.lsn ?? '0/0';
    const current = parseLsn(lsn) / BigInt(defaultSegmentSize);
    const last = r?.last !== null && r?.last !== undefined && /^[0-9A-F]{24}$/.test(r.last) ? r.last : null;
    const behindOf = (archivedSeg: bigint): number => Math.max(0, Number(current - archivedSeg) - 1);
    const stored = await repoSegments(repoWalDir);
    const tli = r?.tli ?? 1;
    let contiguous = firstSeg - 1n;
    while (stored.has(walFileName(tli, contiguous + 1n))) contiguous++;
    return {
      at, lsn, currentSegment: walFileName(tli, current), lastArchived: last,
      behind: last === null ? Number(current - firstSeg) : behindOf(segNo(last)),
      behindRepo: behindOf(contiguous), failed: Number(r?.failed ?? 0),
    };
  };
  const points: ArchivePoint[] = [];
  const loadDone = pgbench(t, ['-c', '4', '-j', '2', '-T', String(seconds), '-n']);
  let finished = false;
  void loadDone.then(() => (finished = true), () => (finished = true));
  while (!finished) {
    const p = await point().catch(() => undefined);
    if (p !== undefined) points.push(p);
    await Promise.race([sleep(1000), loadDone.catch(() => undefined)]);
  }
  const load = await loadDone;
  const { failed, ...end } = await point();
  const endedAt = performance.now();
  let catchUpSeconds: number | undefined;
  for (let i = 0; i < 600 && catchUpSeconds === undefined; i++) {
    const p = await point();
    if (p.behind === 0) catchUpSeconds = (performance.now() - endedAt) / 1000;
    else await sleep(100);
  }
  const [w] = await sql<{ bytes: string }>(t, `SELECT pg_wal_lsn_diff('${end.lsn}', '${startLsn}')::bigint::text AS bytes`);
  return {
    seconds, load, walBytes: Number(w?.bytes ?? NaN), points, end,
    maxBehind: Math.max(end.behind, ...points.map((p) => p.behind)), catchUpSeconds, failedCount: failed - Number(start?.failed ?? 0),
  };
}
