// End-to-end: pg_controldata and pg_rewind on real PostgreSQL 15: a stopped and a killed former primary rejoin.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { jsonLogger } from '../../src/base/log.js';
import { sleep, waitFor } from '../../src/base/wait.js';
import { freePort } from '../../src/runner/ports.js';
import { cloneFrom } from '../../src/pg/basebackup.js';
import { CONF_FILE, standbySignal, writeConf } from '../../src/pg/conf.js';
import { readControlData, wasPrimary } from '../../src/pg/controldata.js';
import { writeHba } from '../../src/pg/hba.js';
import { initdb } from '../../src/pg/initdb.js';
import { observePostgres } from '../../src/pg/observe.js';
import { ensureDir, resolveRunAs, type RunAs } from '../../src/pg/os-user.js';
import { writePgpass } from '../../src/pg/pgpass.js';
import { readPostmasterPid, startPostgres, stopPostgres } from '../../src/pg/postmaster.js';
import { promote } from '../../src/pg/promote.js';
import { connect, queryRows, type PgClient } from '../../src/pg/query.js';
import { rewind, type RewindResult } from '../../src/pg/rewind.js';
import { ensureRole } from '../../src/pg/roles.js';

const binDir = '/usr/lib/postgresql/15/bin';
const password = (label: string): string => `${label}-${randomBytes(12).toString('hex')}`;
const passwords = { superuser: password('su'), replication: password('repl') };
const logLines: string[] = [];
const log = jsonLogger({ level: 'debug', write: (line) => void logLines.push(line) });

interface Node {
  name: string;
  dataDir: string;
  logFile: string;
  /** Entries for replicator (streaming) and postgres (pg_rewind), for any port on 127.0.0.1. */
  passFile: string;
  port: number;
  client?: PgClient;
}

/** Every process command line seen in /proc, sampled until stopped. */
function sampleCommandLines(seen: Set<string>): () => Promise<void> {
  let running = true;
  const loop = (async () => {
    while (running) {
      for (const pid of (await fs.readdir('/proc')).filter((e) => /^\d+$/.test(e))) {
        const cmdline = await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
        if (cmdline !== '') seen.add(cmdline.replace(/\0/g, ' '));
      }
      await sleep(10);
    }
  })();
  return async () => {
    running = false;
    await loop;
  };
}

/** The pids of processes working in `dir` (a postmaster and its children run in their data directory). */
async function processesIn(dir: string): Promise<string[]> {
  const pids = (await fs.readdir('/proc')).filter((e) => /^\d+$/.test(e));
  const cwds = await Promise.all(pids.map((pid) => fs.readlink(`/proc/${pid}/cwd`).catch(() => '')));
  return pids.filter((_, i) => cwds[i] === dir || cwds[i]?.startsWith(`${dir}/`));
}

describe('pg_controldata and pg_rewind', { timeout: 240_000 }, () => {
  let runAs: RunAs;
  let tmp = '';
  const nodes: Node[] = [];
  const commandLines = new Set<string>();
  let a: Node;
  let b: Node;
  const secretFile = (name: string): string => path.join(tmp, 'secrets', name);

  const node = async (name: string): Promise<Node> => {
    const dir = path.join(tmp, name);
    await ensureDir(dir, 0o700, runAs);
    const n: Node = { name, dataDir: path.join(dir, 'data'), logFile: path.join(dir, 'postgres.log'),
      passFile: path.join(dir, 'pgpass'), port: await freePort() };
    await writePgpass(n.passFile, [
      { host: '127.0.0.1', port: '*', database: 'replication', user: 'replicator', password: passwords.replication },
      { host: '127.0.0.1', port: '*', database: '*', user: 'postgres', password: passwords.superuser },
    ], runAs);
    nodes.push(n);
    return n;
  };
  /** Rewrites pgpilot.conf and pg_hba.conf; with `upstream`, as its replica with standby.signal. */
  const configure = async (n: Node, upstream?: Node): Promise<void> => {
    // pg_rewind reads the target's WAL back to the last checkpoint before the fork; without wal_keep_size the old
    // primary's shutdown checkpoint removes it ("could not find previous WAL record") and only a reclone helps.
    const settings = { dataDir: n.dataDir, listen: '127.0.0.1', port: n.port, socketDir: tmp,
      parameters: { wal_keep_size: '128MB' } };
    const primary = upstream === undefined ? undefined
      : { host: '127.0.0.1', port: upstream.port, user: 'replicator', appName: n.name, passFile: n.passFile };
    await writeConf(primary === undefined ? settings : { ...settings, primary }, runAs);
    await writeHba(n.dataDir, { listen: '127.0.0.1', replicationUser: 'replicator' }, runAs);
    await standbySignal(n.dataDir, upstream !== undefined, runAs);
  };
  const start = async (n: Node): Promise<void> => {
    await startPostgres({ binDir, dataDir: n.dataDir, runAs, logFile: n.logFile, log, timeoutMs: 30_000 });
    await n.client?.end().catch(() => undefined);
    n.client = await connect({ host: '127.0.0.1', port: n.port, user: 'postgres', password: passwords.superuser,
      database: 'postgres' });
  };
  const client = (n: Node): PgClient => {
    assert.ok(n.client !== undefined, `${n.name} is connected`);
    return n.client;
  };
  const sql = (n: Node, text: string): Promise<Array<Record<string, unknown>>> => queryRows(client(n), 'test query', text);
  const count = async (n: Node, where: string): Promise<number> =>
    Number((await sql(n, `SELECT count(*) AS n FROM t WHERE ${where}`))[0]?.n);
  /** Starts `n` as a streaming replica of `upstream`. */
  const follow = async (n: Node, upstream: Node): Promise<void> => {
    await configure(n, upstream);
    await start(n);
    await waitFor(`${n.name} streaming from ${upstream.name}`, async () => (await observePostgres(client(n))).streaming,
      { timeoutMs: 30_000 });
  };
  /**
   * Promotes `promoted`, then writes rows on `old`, which still runs as a primary on the old timeline: the two
   * diverge. CHECKPOINT: pg_rewind reads the source's timeline from its pg_control, which a promotion updates only
   * with the next checkpoint (before it pg_rewind says "no rewind required").
   */
  const diverge = async (old: Node, promoted: Node): Promise<void> => {
    await promote({ binDir, dataDir: promoted.dataDir, runAs, timeoutMs: 30_000, log });
    await sql(promoted, 'CHECKPOINT');
    await sql(old, `INSERT INTO t SELECT 'diverged on ${old.name} ' || g FROM generate_series(1, 1000) g`);
  };
  const rewindOnto = async (target: Node, source: Node, port = source.port): Promise<RewindResult> => {
    const stopSampling = sampleCommandLines(commandLines);
    try {
      return await rewind({ binDir, dataDir: target.dataDir, runAs, log,
        source: { host: '127.0.0.1', port, user: 'postgres', passFile: target.passFile } });
    } finally {
      await stopSampling();
    }
  };
  /** After a rewind: `n` follows `primary` on `timeline`, sees new rows and none of its diverged ones. */
  const rejoin = async (n: Node, primary: Node, timeline: number): Promise<void> => {
    await follow(n, primary);
    const row = `written on ${primary.name} after rewinding ${n.name}`;
    await sql(primary, `INSERT INTO t VALUES ('${row}')`);
    await waitFor(`the new row on ${n.name}`, async () => (await count(n, `x = '${row}'`)) === 1, { timeoutMs: 20_000 });
    assert.equal(await count(n, "x LIKE 'diverged%'"), 0);
    assert.equal(await count(n, 'true'), await count(primary, 'true'));
    const o = await observePostgres(client(n));
    assert.deepEqual([o.inRecovery, o.streaming, o.timeline], [true, true, timeline]);
  };
  const lastLog = (msg: string): string => logLines.filter((l) => l.includes(`"msg":"${msg}"`)).at(-1) ?? '';

  before(async () => {
    runAs = await resolveRunAs('postgres');
    tmp = await fs.mkdtemp('/tmp/pgpilot-rewind-');
    await ensureDir(tmp, 0o755, runAs);
    // The agent's secret files, readable by root only, one per password.
    await fs.mkdir(secretFile(''), { mode: 0o700 });
    for (const [name, pw] of Object.entries(passwords)) await fs.writeFile(secretFile(name), `${pw}\n`, { mode: 0o600 });
    [a, b] = [await node('rw-a'), await node('rw-b')];
  });

  after(async () => {
    for (const n of nodes) {
      await n.client?.end().catch(() => undefined);
      await stopPostgres(n.dataDir, 'immediate', 5_000, log);
    }
    if (tmp !== '') await fs.rm(tmp, { recursive: true, force: true });
  });

  it('sets up primary A and replica B streaming from it', async () => {
    await initdb({ binDir, dataDir: a.dataDir, runAs, superuser: 'postgres', superuserPasswordFile: secretFile('superuser'), log });
    await configure(a);
    await start(a);
    await ensureRole(client(a), { name: 'replicator', options: [], replication: true, passwordFile: secretFile('replication') });
    await sql(a, "CREATE TABLE t (x text); INSERT INTO t VALUES ('before the failover')");
    await cloneFrom({ binDir, dataDir: b.dataDir, runAs, host: '127.0.0.1', port: a.port, user: 'replicator',
      passFile: b.passFile, appName: b.name, log });
    await follow(b, a);
    await waitFor('the first row on B', async () => (await count(b, 'true')) === 1, { timeoutMs: 20_000 });
  });

  it('rewinds a cleanly stopped former primary that diverged, which then follows the new primary', async () => {
    await diverge(a, b);
    await stopPostgres(a.dataDir, 'fast', 30_000, log);
    const cd = await readControlData({ binDir, dataDir: a.dataDir, runAs });
    assert.deepEqual([cd.state, wasPrimary(cd), cd.timeline, cd.dataChecksums, cd.walLogHints],
      ['shut down', true, 1, true, true]);
    assert.equal(cd.systemIdentifier, (await observePostgres(client(b))).systemIdentifier);

    assert.deepEqual(await rewindOnto(a, b), { rewound: true });
    assert.match(lastLog('pg_rewind finished'), /servers diverged at WAL location [0-9A-F]+\/[0-9A-F]+ on timeline 1/);
    // pg_rewind copied the source's configuration: the caller must write its own again.
    const conf = (n: Node): Promise<string> => fs.readFile(path.join(n.dataDir, CONF_FILE), 'utf8');
    assert.equal(await conf(a), await conf(b));
    const rewound = await readControlData({ binDir, dataDir: a.dataDir, runAs });
    assert.deepEqual([rewound.state, wasPrimary(rewound)], ['in archive recovery', false]);
    // Rewinding again before it ran would end that recovery as a primary on the source's timeline: refused.
    await assert.rejects(rewindOnto(a, b), { code: 'State', message: /stopped in archive recovery/ });

    await rejoin(a, b, 2);
  });

  it('rewinds a former primary killed with SIGKILL: pg_rewind runs crash recovery first', async () => {
    await diverge(b, a);
    const pid = await readPostmasterPid(b.dataDir);
    assert.ok(pid !== undefined);
    process.kill(pid, 'SIGKILL');
    // Its children notice the death and leave; until then the crash recovery could not take over shared memory.
    await waitFor('the killed postmaster and its children to be gone',
      async () => (await processesIn(await fs.realpath(b.dataDir))).length === 0, { timeoutMs: 20_000 });
    const cd = await readControlData({ binDir, dataDir: b.dataDir, runAs });
    assert.deepEqual([cd.state, wasPrimary(cd), cd.timeline], ['in production', true, 2]);

    assert.deepEqual(await rewindOnto(b, a), { rewound: true });
    assert.match(lastLog('pg_rewind finished'), /for target server to complete crash recovery/);
    assert.match(lastLog('pg_rewind finished'), /servers diverged at WAL location \S+ on timeline 2/);
    await rejoin(b, a, 3);
  });

  it('finds nothing to do on a cleanly stopped replica that already follows the primary', async () => {
    await stopPostgres(b.dataDir, 'fast', 30_000, log);
    const cd = await readControlData({ binDir, dataDir: b.dataDir, runAs });
    assert.deepEqual([cd.state, wasPrimary(cd), cd.minRecoveryEndTimeline], ['shut down in recovery', false, 3]);
    assert.deepEqual(await rewindOnto(b, a), { rewound: false });
    assert.match(lastLog('pg_rewind found nothing to do'), /source and target cluster are on the same timeline/);
  });

  it('fails with a Postgres error naming the cause when the source cannot be reached', async () => {
    const port = await freePort();
    await assert.rejects(rewindOnto(b, a, port), (e: Error & { code?: string; hint?: string }) => {
      assert.equal(e.code, 'Postgres');
      assert.match(e.message, new RegExp(`could not rewind ${b.dataDir} from 127\\.0\\.0\\.1:${port}: pg_rewind failed `
        + `\\(exit code 1\\): pg_rewind: error: connection to server at "127\\.0\\.0\\.1", port ${port} failed: Connection refused`));
      assert.match(e.hint ?? '', /recloned/);
      return true;
    });
    assert.equal((await readControlData({ binDir, dataDir: b.dataDir, runAs })).state, 'shut down in recovery');
  });

  it('never puts a password in process arguments or logs, and leaves no process behind', async () => {
    const rewinds = [...commandLines].filter((c) => c.includes('pg_rewind') && c.includes(tmp));
    assert.ok(rewinds.length > 0, 'a pg_rewind command line was sampled');
    assert.ok(rewinds.every((c) => c.includes('--source-server=host=127.0.0.1')));
    const texts = [...commandLines, logLines.join(''),
      ...(await Promise.all(nodes.map((n) => fs.readFile(n.logFile, 'utf8'))))];
    for (const pw of Object.values(passwords)) assert.ok(!texts.some((t) => t.includes(pw)));
    for (const n of nodes) await stopPostgres(n.dataDir, 'fast', 30_000, log);
    await waitFor('no process working under the test directory',
      async () => (await processesIn(await fs.realpath(tmp))).length === 0, { timeoutMs: 10_000 });
  });
});
