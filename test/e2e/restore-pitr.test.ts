// e2e: point-in-time restores into new clusters (time, LSN, xid, restore point; from S3 too), and every validation error
// refused before anything is written, with the source cluster untouched.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { BackupListing } from '../../src/api/jobs.js';
import { waitFor } from '../../src/base/wait.js';
import { parseLsn } from '../../src/model/lsn.js';
import { freePortRange } from '../../src/runner/ports.js';
import { cliOk, runCli, type CliResult } from '../support/cli.js';
import { query, testCluster, type TestCluster } from '../support/local-cluster.js';
import { startS3rver, type S3rver } from '../support/s3rver.js';

let c: TestCluster;
let s3: S3rver;
let tmp: string;
const marks: Record<string, string> = {};
let count = 0;

const sql = async <T extends Record<string, unknown>>(text: string, params: unknown[] = []): Promise<T[]> => query<T>(await c.superuser(c.pgPort, 'app'), text, params);

before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'pgpilot-pitr-'));
  await fs.chmod(tmp, 0o755);
  s3 = await startS3rver();
  const creds = path.join(tmp, 's3.credentials');
  await fs.writeFile(creds, `aws_access_key_id = ${s3.accessKeyId}\naws_secret_access_key = ${s3.secretAccessKey}\n`, { mode: 0o600 });
  await fs.writeFile(path.join(tmp, 'passphrase'), 'pitr secret\n', { mode: 0o600 });
  const repos = [
    `{name: local, path: ${JSON.stringify(path.join(tmp, 'repo'))}}`,
    `{name: s3, s3: {bucket: ${s3.bucket}, endpoint: ${JSON.stringify(s3.endpoint)}, prefix: src, credentialsFile: ${JSON.stringify(creds)}}, encryption: {passphraseFile: ${JSON.stringify(path.join(tmp, 'passphrase'))}}}`,
  ];
  c = await testCluster('e2epitr', 1);
  await cliOk(['up', '-f', await c.manifest(1, `  backup: {repos: [${repos.join(', ')}]}`), '--detach'], c.env);
  await sql('CREATE TABLE marks (id serial PRIMARY KEY, phase text NOT NULL)');
  await cliOk(['backup', c.name, '--repo', 'local', '--type', 'full'], c.env, 300_000);
  await cliOk(['backup', c.name, '--repo', 's3', '--type', 'full'], c.env, 300_000);
  // Marker rows at known points: a time, an LSN, a transaction, a restore point.
  const insert = async (phase: string): Promise<void> => void (await sql('INSERT INTO marks (phase) SELECT $1 FROM generate_series(1, 10)', [phase]));
  await insert('a');
  await sleepPastMillisecond();
  marks['time'] = (await sql<{ t: string }>("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS t"))[0]?.t ?? '';
  await sleepPastMillisecond();
  await insert('b');
  marks['lsn'] = (await sql<{ l: string }>('SELECT pg_current_wal_insert_lsn()::text AS l'))[0]?.l ?? '';
  await insert('c');
  const client = await c.superuser(c.pgPort, 'app');
  const rows = await query<{ x: string }>(client, "WITH i AS (INSERT INTO marks (phase) SELECT 'd' FROM generate_series(1, 10)) SELECT txid_current()::text AS x");
  marks['xid'] = rows[0]?.x ?? '';
  await insert('e');
  await cliOk(['restore-point', c.name, 'before-f'], c.env);
  await insert('f');
  await query(await c.superuser(c.pgPort), 'SELECT pg_switch_wal()');
  count = 60;
});
after(async () => {
  await c?.destroy();
  await s3?.stop();
  if (tmp !== undefined) await fs.rm(tmp, { recursive: true, force: true });
});

/** Makes sure the next commit's timestamp is later than the recorded time. */
async function sleepPastMillisecond(): Promise<void> {
  const start = Date.now();
  await waitFor('a millisecond to pass', () => Date.now() > start + 5, { timeoutMs: 1000, intervalMs: 2 });
}

let seq = 0;
/** A manifest for a new one-member cluster with its own ports and repository. */
async function newManifest(): Promise<{ name: string; file: string; port: number }> {
  seq += 1;
  const name = `e2epitrnew${seq}`;
  const [port, api] = [await freePortRange(1), await freePortRange(1, 30000)];
  const file = path.join(tmp, `${name}.yaml`);
  await fs.writeFile(file, [
    'apiVersion: pgpilot.dev/v1', 'kind: PostgresCluster', `metadata: {name: ${name}}`, 'spec:', '  instances: 1',
    `  postgres: {port: ${port}, parameters: {max_connections: 50, shared_buffers: 32MB}}`, `  api: {port: ${api}}`,
    `  backup: {repos: [{name: own, path: ${JSON.stringify(path.join(tmp, `${name}-repo`))}}]}`,
  ].join('\n') + '\n');
  return { name, file, port };
}

/** Restores into a new cluster, returns the phases its table holds, and destroys it. */
async function restoredPhases(flags: string[]): Promise<string> {
  const n = await newManifest();
  try {
    await cliOk(['restore', c.name, '--to-new', n.name, '--new-file', n.file, ...flags], c.env, 600_000);
    const rows = await query<{ p: string }>(await newSuperuser(n.name, n.port), "SELECT string_agg(DISTINCT phase, '' ORDER BY phase) AS p FROM marks");
    return rows[0]?.p ?? '';
  } finally {
    await runCli(['down', n.name, '--destroy', '--yes'], c.env, 180_000);
  }
}

async function newSuperuser(name: string, port: number): Promise<{ host: string; port: number; user: string; password: string; database: string }> {
  const password = (await fs.readFile(path.join(c.home, name, 'secrets', 'superuser.password'), 'utf8')).trim();
  return { host: '127.0.0.1', port, user: 'postgres', password, database: 'app' };
}

test('a restore to a time, an LSN, an xid and a restore point holds exactly the rows committed before each', async () => {
  assert.equal((await sql<{ n: string }>('SELECT count(*)::text AS n FROM marks'))[0]?.n, String(count));
  assert.equal(await restoredPhases(['--time', marks['time'] ?? '']), 'a');
  assert.equal(await restoredPhases(['--lsn', marks['lsn'] ?? '']), 'ab');
  assert.equal(await restoredPhases(['--xid', marks['xid'] ?? '']), 'abcd');
  assert.equal(await restoredPhases(['--name', 'before-f']), 'abcde');
});

test('a clone from the encrypted S3 repository replays to the end of the archive', async () => {
  assert.equal(await restoredPhases(['--repo', 's3']), 'abcdef');
});

/** A refused restore: the expected exit code and message, no new cluster left behind, the source still serving. */
async function refused(r: CliResult, code: number, message: RegExp, name: string): Promise<void> {
  assert.equal(r.code, code, `exit code\n${r.stdout}${r.stderr}`);
  assert.match(r.stderr, message);
  assert.equal(await fs.stat(path.join(c.home, name)).then(() => true, () => false), false, 'nothing of the new cluster is left');
  assert.equal((await sql<{ n: string }>('SELECT count(*)::text AS n FROM marks'))[0]?.n, String(count), 'the source cluster is untouched');
}

test('validation errors are clear and leave everything as it was', async () => {
  const n = await newManifest();
  const restore = (flags: string[], source = c.name): Promise<CliResult> => runCli(['restore', source, '--to-new', n.name, '--new-file', n.file, ...flags], c.env, 300_000);
  await refused(await restore(['--time', '2020-01-01T00:00:00Z']), 104, /before the earliest restorable point[\s\S]*earliest restorable point is/, n.name);
  await refused(await restore(['--lsn', 'FF/0']), 104, /after the newest archived WAL, which ends at LSN/, n.name);
  await refused(await restore(['--set', '20200101-000000F']), 40, /20200101-000000F is not a complete backup/, n.name);
  await refused(await restore(['--name', 'no-such-point']), 40, /no restore point "no-such-point"/, n.name);
  // The new cluster's port taken: refused before the restore, not after it.
  const squatter = net.createServer();
  await new Promise<void>((resolve) => squatter.listen(n.port, '127.0.0.1', resolve));
  try {
    await refused(await restore([]), 41, new RegExp(`ports already in use: ${n.port}`), n.name);
  } finally {
    await new Promise((resolve) => squatter.close(resolve));
  }
  const toDir = await runCli(['restore', c.name, '--to-dir', path.join(tmp, 'dir-with-target'), '--time', '2026-01-01T00:00:00Z'], c.env);
  assert.equal(toDir.code, 11, toDir.stderr);
  assert.match(toDir.stderr, /--to-dir copies a backup as it is and takes no recovery target/);
  // A copy of the repository elsewhere, then damaged: a missing segment is named; a wrong passphrase is refused.
  const copy = path.join(tmp, 'repo-copy');
  await fs.cp(path.join(tmp, 'repo'), copy, { recursive: true });
  const walDir = path.join(copy, 'wal', '0000000100000000');
  const segments = (await fs.readdir(walDir)).sort();
  const victim = segments.at(-2) ?? '';
  await fs.rm(path.join(walDir, victim));
  const manifest = (repo: string): Promise<string> => writeSource(repo);
  await refused(await restore(['-f', await manifest(`{name: local, path: ${JSON.stringify(copy)}}`)]), 103, new RegExp(`WAL segment ${victim.slice(0, 24)} is missing`), n.name);
  await refused(await restore(['-f', await manifest(`{name: local, path: ${JSON.stringify(path.join(tmp, 'nowhere'))}}`)]), 100, /holds no pgpilot repository/, n.name);
  const wrong = path.join(tmp, 'wrong');
  await fs.writeFile(wrong, 'not it\n', { mode: 0o600 });
  const creds = path.join(tmp, 's3.credentials');
  const s3spec = `{name: s3, s3: {bucket: ${s3.bucket}, endpoint: ${JSON.stringify(s3.endpoint)}, prefix: src, credentialsFile: ${JSON.stringify(creds)}}, encryption: {passphraseFile: ${JSON.stringify(wrong)}}}`;
  await refused(await restore(['-f', await manifest(s3spec)]), 102, /wrong passphrase/, n.name);
});

/** A source manifest naming `repo`, for restores from a copied or damaged repository. */
async function writeSource(repo: string): Promise<string> {
  const file = path.join(tmp, `source-${Date.now()}.yaml`);
  await fs.writeFile(file, ['apiVersion: pgpilot.dev/v1', 'kind: PostgresCluster', `metadata: {name: ${c.name}}`, 'spec:', `  backup: {repos: [${repo}]}`].join('\n') + '\n');
  return file;
}

test('backups shows the recoverable window: from the end of the oldest backup to the end of the archive', async () => {
  const list = JSON.parse(await cliOk(['backups', c.name, '--json'], c.env)) as BackupListing;
  const local = list.repos.find((r) => r.name === 'local');
  const w = local?.window;
  assert.ok(w !== undefined && w !== null, 'a window');
  assert.equal(w.earliest.backup, local?.backups?.[0]?.label);
  assert.ok(!('error' in w.latest), 'no gap in the archive');
  assert.ok(parseLsn(w.latest.lsn) > parseLsn(marks['lsn'] ?? '0/0'), `the window ends after the LSN mark: ${w.latest.lsn}`);
  const text = await cliOk(['backups', c.name], c.env);
  assert.match(text, /recoverable from .* to LSN .* on timeline 1/);
});
