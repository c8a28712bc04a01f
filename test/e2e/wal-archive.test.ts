// e2e: continuous WAL archiving on a real two-member cluster: switched segments reach the repository, markers are
// cleaned, the archive stays gapless across a switchover (new timeline), and a burst of segments archives without failures.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { readArchiveStatus } from '../../src/backup/archiver.js';
import { openRepo, type Repo } from '../../src/backup/repo.js';
import { getWal, listWal } from '../../src/backup/wal-archive.js';
import { waitFor } from '../../src/base/wait.js';
import type { BackupRepoSpec } from '../../src/config/types.js';
import type { ClusterStatus } from '../../src/model/status.js';
import { historyFileName, parseSegmentName, parseTimelineHistory, segmentTimeline, walFileName } from '../../src/model/wal.js';
import { cliOk } from '../support/cli.js';
import { query, testCluster, type TestCluster } from '../support/local-cluster.js';

let c: TestCluster;
let repoDir: string;

before(async () => {
  c = await testCluster('e2ewal', 2);
  repoDir = path.join(c.home, 'repo');
  await cliOk(['up', '-f', await c.manifest(2, `  backup: {repos: [{name: local, path: ${JSON.stringify(repoDir)}}]}`), '--detach'], c.env);
});
after(async () => c.destroy());

function repoSpec(): BackupRepoSpec {
  return {
    name: 'local', path: repoDir,
    s3: { bucket: '', endpoint: '', region: 'us-east-1', prefix: '', credentialsFile: '', forcePathStyle: true },
    retention: { full: 2, fullType: 'count', diff: 0 },
    schedules: { full: '', diff: '', incr: '' },
    compress: { type: 'zstd', level: 0 },
    encryption: { passphraseFile: '' },
  };
}

/** The repository, once the first push created it. */
const repo = (): Promise<Repo> => openRepo(repoSpec());
const archivedNames = async (): Promise<Set<string>> => new Set((await listWal(await repo())).map((w) => w.name));
const exists = (file: string): Promise<boolean> => fs.stat(file).then(() => true, () => false);
const memberDir = (member: string): string => path.join(c.home, c.name, 'members', member);

function primaryOf(s: ClusterStatus): ClusterStatus['members'][number] {
  const p = s.members.find((m) => m.role === 'primary');
  assert.ok(p, 'a primary');
  return p;
}

async function waitHealthy(what: string): Promise<ClusterStatus> {
  return withDiagnostics(() => waitFor(what, async () => {
    const s = await c.status();
    const p = s.members.find((m) => m.role === 'primary');
    const ok = p !== undefined && s.members.length === 2 && s.members.every((m) => m.state === 'running' && m.timeline === p.timeline && (m.role === 'primary' || m.streaming));
    return ok ? s : undefined;
  }, { timeoutMs: 90_000, intervalMs: 500 }));
}

/** A failed wait shows the cluster's status and its agents' latest log lines. */
async function withDiagnostics<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (e) {
    throw new Error(`${e instanceof Error ? e.message : String(e)}\n${await c.diagnostics()}`);
  }
}

/** Writes some rows and switches to a new segment; returns the name of the segment just completed. */
async function writeAndSwitch(port: number, rows: number): Promise<string> {
  const target = await c.superuser(port);
  await query(target, 'CREATE TABLE IF NOT EXISTS filler (id int, v text)');
  await query(target, `INSERT INTO filler SELECT g, repeat('x', 1000) FROM generate_series(1, ${rows}) g`);
  const [row] = await query<{ name: string }>(target, 'SELECT pg_walfile_name(pg_switch_wal()) AS name');
  assert.ok(row);
  return row.name;
}

async function failedCount(port: number): Promise<number> {
  const [row] = await query<{ failed: string }>(await c.superuser(port), 'SELECT failed_count::text AS failed FROM pg_stat_archiver');
  return Number(row?.failed);
}

/**
 * The segments missing from the archive between the first archived one and `last`, following the timeline history of
 * `last`'s timeline: below a switch point the parent timeline's copy, from the switch point's segment on the child's.
 */
async function gaps(last: string): Promise<string[]> {
  const { tli, segNo: lastSegNo } = parseSegmentName(last);
  const names = await archivedNames();
  let history: ReturnType<typeof parseTimelineHistory> = [];
  if (tli > 1) {
    const file = path.join(c.home, `history-${tli}`);
    if (!(await getWal(await repo(), historyFileName(tli), file))) return [historyFileName(tli)];
    history = parseTimelineHistory(await fs.readFile(file, 'utf8'));
  }
  const segNos = [...names].flatMap((n) => (/^[0-9A-F]{24}$/.test(n) ? [parseSegmentName(n).segNo] : []));
  const first = segNos.reduce((a, b) => (b < a ? b : a), lastSegNo);
  const missing: string[] = [];
  for (let segNo = first; segNo <= lastSegNo; segNo++) {
    const expected = walFileName(segmentTimeline(history, tli, segNo), segNo);
    if (!names.has(expected)) missing.push(expected);
  }
  return missing;
}

async function assertNoGaps(last: string): Promise<void> {
  await waitFor(`a gapless archive up to ${last}`, async () => (await gaps(last)).length === 0, { timeoutMs: 30_000, intervalMs: 250 })
    .catch(() => undefined);
  assert.deepEqual(await gaps(last), [], 'segments missing from the archive');
}

test('a switched segment reaches the repository, and its done marker goes once PostgreSQL marks it archived', async () => {
  const primary = primaryOf(await waitHealthy('a healthy cluster'));
  const segment = await writeAndSwitch(primary.port, 2000);
  await withDiagnostics(() => waitFor(`${segment} in the repository`, async () => (await archivedNames()).has(segment), { timeoutMs: 30_000, intervalMs: 200 }));
  const readyFile = path.join(memberDir(primary.name), 'data', 'pg_wal', 'archive_status', `${segment}.ready`);
  const marker = path.join(memberDir(primary.name), 'spool', 'done', segment);
  await waitFor('PostgreSQL to take the file as archived and the marker to go', async () => !(await exists(readyFile)) && !(await exists(marker)), { timeoutMs: 10_000, intervalMs: 100 });
  const [archiver] = await query<{ last: string | null }>(await c.superuser(primary.port), 'SELECT last_archived_wal AS last FROM pg_stat_archiver');
  assert.ok((archiver?.last ?? '') >= segment, `pg_stat_archiver.last_archived_wal ${archiver?.last} is at least ${segment}`);
  const status = await readArchiveStatus(path.join(memberDir(primary.name), 'spool'));
  assert.ok(status !== undefined && status.pushedCount > 0 && status.failures === 0, JSON.stringify(status));
  assert.equal(await failedCount(primary.port), 0);
});

test('after a switchover the archive holds the new timeline\'s history file and no gap', async () => {
  const before = primaryOf(await waitHealthy('a healthy cluster'));
  const lastBefore = await writeAndSwitch(before.port, 1000);
  const to = [0, 1].map((i) => `${c.name}-${i}`).find((m) => m !== before.name) ?? '';
  await withDiagnostics(() => cliOk(['switchover', c.name, '--to', to], c.env));
  const after = await withDiagnostics(() => waitFor('the new primary on a new timeline', async () => {
    const p = (await c.status()).members.find((m) => m.role === 'primary' && m.state === 'running');
    return p !== undefined && p.name === to && (p.timeline ?? 0) > (before.timeline ?? 0) ? p : undefined;
  }, { timeoutMs: 60_000, intervalMs: 250 }));
  const last = await writeAndSwitch(after.port, 1000);
  const tli = parseSegmentName(last).tli;
  assert.ok(tli > parseSegmentName(lastBefore).tli, `${last} is on a new timeline`);
  await withDiagnostics(() => waitFor(`${historyFileName(tli)} and ${last} in the repository`, async () => {
    const names = await archivedNames();
    return names.has(historyFileName(tli)) && names.has(last);
  }, { timeoutMs: 30_000, intervalMs: 200 }));
  await assertNoGaps(last);
  await waitHealthy('the former primary to follow');
});

test('a burst of segments all reach the repository and PostgreSQL records no archive failure', async () => {
  const primary = primaryOf(await waitHealthy('a healthy cluster'));
  const target = await c.superuser(primary.port);
  const [start] = await query<{ name: string }>(target, 'SELECT pg_walfile_name(pg_current_wal_lsn()) AS name');
  assert.ok(start);
  let last = start.name;
  for (let i = 0; i < 10; i++) last = await writeAndSwitch(primary.port, 4000);
  const { tli, segNo: first } = parseSegmentName(start.name);
  const expected = Array.from({ length: Number(parseSegmentName(last).segNo - first) + 1 }, (_, i) => walFileName(tli, first + BigInt(i)));
  assert.ok(expected.length >= 10, `${expected.length} segments`);
  await withDiagnostics(() => waitFor(`the ${expected.length} segments of the burst in the repository`, async () => {
    const names = await archivedNames();
    return expected.every((n) => names.has(n));
  }, { timeoutMs: 60_000, intervalMs: 250 }));
  await assertNoGaps(last);
  assert.equal(await failedCount(primary.port), 0);
  const status = await waitFor('nothing pending', async () => {
    const s = await readArchiveStatus(path.join(memberDir(primary.name), 'spool'));
    return s?.pending === 0 ? s : undefined;
  }, { timeoutMs: 10_000, intervalMs: 100 });
  assert.equal(status.failures, 0);
});

/** The pid of the WAL archiver child of a member's agent. */
async function archiverPid(member: string): Promise<number | undefined> {
  const config = path.join(memberDir(member), 'agent.yaml');
  for (const entry of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const args = (await fs.readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')).split('\0');
    if (args.includes('wal-archiver') && args.includes(config)) return Number(entry);
  }
  return undefined;
}

test('a killed WAL archiver is restarted by its agent and archives what PostgreSQL waits for', async () => {
  const primary = primaryOf(await waitHealthy('a healthy cluster'));
  const killed = await archiverPid(primary.name);
  assert.ok(killed !== undefined, 'the primary runs a WAL archiver');
  process.kill(killed, 'SIGKILL');
  const segment = await writeAndSwitch(primary.port, 1000);
  await withDiagnostics(() => waitFor(`${segment} in the repository`, async () => (await archivedNames()).has(segment), { timeoutMs: 30_000, intervalMs: 200 }));
  const restarted = await archiverPid(primary.name);
  assert.ok(restarted !== undefined && restarted !== killed, 'a new archiver runs');
  assert.equal(await failedCount(primary.port), 0);
});
