// End-to-end: local PostgreSQL control on real PostgreSQL 15 (initdb, conf, start, roles, slots, clone, promote, stop).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { jsonLogger } from '../../src/base/log.js';
import { waitFor } from '../../src/base/wait.js';
import { freePort } from '../../src/runner/ports.js';
import { cloneFrom } from '../../src/pg/basebackup.js';
import { standbySignal, writeConf, type PrimaryConnection } from '../../src/pg/conf.js';
import { writeHba } from '../../src/pg/hba.js';
import { initdb } from '../../src/pg/initdb.js';
import { observePostgres } from '../../src/pg/observe.js';
import { ensureDir, resolveRunAs, type RunAs } from '../../src/pg/os-user.js';
import { writePgpass } from '../../src/pg/pgpass.js';
import { readPostmasterPid, startPostgres, stopPostgres } from '../../src/pg/postmaster.js';
import { promote } from '../../src/pg/promote.js';
import { connect, queryRows, type PgClient } from '../../src/pg/query.js';
import { ensureDatabase, ensureRole } from '../../src/pg/roles.js';
import { slotName } from '../../src/pg/slot-names.js';
import { createPhysicalSlot, dropSlot, listSlots } from '../../src/pg/slots.js';

const binDir = '/usr/lib/postgresql/15/bin';
const secret = (label: string): string => `${label}-${randomBytes(12).toString('hex')}`;
const passwords = { superuser: secret('su'), replication: secret('repl'), app: secret('app') };
const logLines: string[] = [];
const log = jsonLogger({ level: 'debug', write: (line) => void logLines.push(line) });

interface Member {
  name: string;
  dataDir: string;
  logFile: string;
  passFile: string;
  port: number;
}

describe('local PostgreSQL control', { timeout: 180_000 }, () => {
  let runAs: RunAs;
  let tmp = '';
  let superuserPasswordFile = '';
  let replicationPasswordFile = '';
  const members: Member[] = [];
  const clients: PgClient[] = [];

  const member = async (name: string): Promise<Member> => {
    const dir = path.join(tmp, name);
    await ensureDir(dir, 0o700, runAs);
    const m = { name, dataDir: path.join(dir, 'data'), logFile: path.join(dir, 'postgres.log'),
      passFile: path.join(dir, 'pgpass'), port: await freePort() };
    members.push(m);
    return m;
  };
  const configure = async (m: Member, primary?: PrimaryConnection): Promise<void> => {
    const settings = { dataDir: m.dataDir, listen: '127.0.0.1', port: m.port, socketDir: tmp, parameters: { work_mem: '8MB' } };
    await writeConf(primary === undefined ? settings : { ...settings, primary }, runAs);
    await writeHba(m.dataDir, { listen: '127.0.0.1', replicationUser: 'replicator' }, runAs);
  };
  const start = (m: Member): Promise<number> =>
    startPostgres({ binDir, dataDir: m.dataDir, runAs, logFile: m.logFile, log, timeoutMs: 30_000 });
  const superuser = async (m: Member): Promise<PgClient> => {
    const client = await connect({ host: '127.0.0.1', port: m.port, user: 'postgres', password: passwords.superuser, database: 'postgres' });
    clients.push(client);
    return client;
  };
  const value = async (client: PgClient, sql: string): Promise<unknown> =>
    Object.values((await queryRows(client, 'test query', sql))[0] ?? {})[0];

  let primary: Member;
  let replica: Member;
  let primaryClient: PgClient;
  let replicaClient: PgClient;

  before(async () => {
    runAs = await resolveRunAs('postgres');
    tmp = await fs.mkdtemp('/tmp/pgpilot-pg-');
    await ensureDir(tmp, 0o755, runAs);
    const secrets = path.join(tmp, 'secrets');
    await fs.mkdir(secrets, { mode: 0o700 });
    superuserPasswordFile = path.join(secrets, 'superuser');
    replicationPasswordFile = path.join(secrets, 'replication');
    await fs.writeFile(superuserPasswordFile, `${passwords.superuser}\n`, { mode: 0o600 });
    await fs.writeFile(replicationPasswordFile, `${passwords.replication}\n`, { mode: 0o600 });
    primary = await member('ha-1');
    replica = await member('ha-2');
  });

  after(async () => {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
    for (const m of members) await stopPostgres(m.dataDir, 'immediate', 5_000, log);
    if (tmp !== '') await fs.rm(tmp, { recursive: true, force: true });
  });

  it('initdb makes a checksummed cluster that starts with our conf and takes the superuser over TCP', async () => {
    await initdb({ binDir, dataDir: primary.dataDir, runAs, superuser: 'postgres', superuserPasswordFile, log });
    await configure(primary);
    await configure(primary);
    const main = await fs.readFile(path.join(primary.dataDir, 'postgresql.conf'), 'utf8');
    assert.equal(main.match(/^include_if_exists = 'pgpilot\.conf'$/gm)?.length, 1);
    assert.deepEqual(await fs.readdir(path.dirname(primary.dataDir)), ['data']);
    const pid = await start(primary);
    assert.equal(await readPostmasterPid(primary.dataDir), pid);
    primaryClient = await superuser(primary);
    assert.equal(await value(primaryClient, 'SHOW data_checksums'), 'on');
    assert.equal(await value(primaryClient, 'SHOW work_mem'), '8MB');
    assert.equal(await value(primaryClient, 'SHOW hba_file'), path.join(primary.dataDir, 'pg_hba.conf'));
    assert.equal(await value(primaryClient, 'SHOW server_encoding'), 'UTF8');
    const o = await observePostgres(primaryClient);
    assert.deepEqual([o.inRecovery, o.timeline, o.streaming, o.pendingRestart], [false, 1, false, false]);
    assert.ok(o.walPosition > 0n && o.serverVersion >= 150000);
  });

  it('creates roles, a database and a slot idempotently', async () => {
    const replicator = { name: 'replicator', options: [], replication: true, passwordFile: replicationPasswordFile };
    assert.equal(await ensureRole(primaryClient, replicator), 'created');
    assert.equal(await ensureRole(primaryClient, replicator), 'updated');
    assert.equal(await ensureRole(primaryClient, { name: 'app', options: ['CREATEDB'], password: passwords.app }), 'created');
    assert.equal(await ensureDatabase(primaryClient, { name: 'app', owner: 'app' }), 'created');
    assert.equal(await ensureDatabase(primaryClient, { name: 'app', owner: 'app' }), 'exists');
    const app = await connect({ host: '127.0.0.1', port: primary.port, user: 'app', password: passwords.app, database: 'app' });
    await app.end();
    await createPhysicalSlot(primaryClient, slotName(replica.name));
    await createPhysicalSlot(primaryClient, slotName(replica.name));
    const slots = await listSlots(primaryClient);
    assert.deepEqual(slots.map((s) => [s.name, s.type, s.active]), [['ha_2', 'physical', false]]);
    assert.ok(slots[0]?.restartLsn !== undefined);
  });

  it('clones a replica through the slot that streams what the primary writes', async () => {
    const from = { host: '127.0.0.1', port: primary.port, user: 'replicator', passFile: replica.passFile };
    await writePgpass(replica.passFile,
      [{ host: from.host, port: from.port, database: 'replication', user: from.user, password: passwords.replication }], runAs);
    await cloneFrom({ binDir, dataDir: replica.dataDir, runAs, ...from, slot: 'ha_2', appName: replica.name, log });
    await configure(replica, { ...from, appName: replica.name, slot: 'ha_2' });
    await standbySignal(replica.dataDir, true, runAs);
    await start(replica);
    replicaClient = await superuser(replica);
    await queryRows(primaryClient, 'write', "CREATE TABLE t (x text); INSERT INTO t VALUES ('hello')");
    await waitFor('the row on the replica', async () => (await value(replicaClient, 'SELECT x FROM t')) === 'hello',
      { timeoutMs: 20_000 });
    const [p, r] = await Promise.all([observePostgres(primaryClient), observePostgres(replicaClient)]);
    assert.deepEqual([r.inRecovery, r.streaming, r.timeline], [true, true, 1]);
    assert.equal(r.systemIdentifier, p.systemIdentifier);
    assert.deepEqual(p.replication.map((x) => [x.applicationName, x.state]), [['ha-2', 'streaming']]);
    assert.equal((await listSlots(primaryClient))[0]?.active, true);
  });

  it('never puts a password in process arguments', async () => {
    const pids = (await fs.readdir('/proc')).filter((e) => /^\d+$/.test(e));
    const cmdlines = await Promise.all(pids.map((pid) => fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')));
    assert.ok(cmdlines.some((c) => c.startsWith('postgres: ')), 'postgres processes are visible');
    for (const pw of Object.values(passwords)) assert.ok(!cmdlines.some((c) => c.includes(pw)));
  });

  it('drops an active slot by terminating its walsender', async () => {
    await dropSlot(primaryClient, 'ha_2');
    await dropSlot(primaryClient, 'ha_2');
    assert.deepEqual(await listSlots(primaryClient), []);
  });

  it('promotes the replica to timeline 2', async () => {
    await promote({ binDir, dataDir: replica.dataDir, runAs, timeoutMs: 30_000, log });
    const o = await waitFor('the promoted replica on timeline 2', async () => {
      const seen = await observePostgres(replicaClient);
      return !seen.inRecovery && seen.timeline === 2 && seen;
    }, { timeoutMs: 10_000 });
    assert.equal(o.streaming, false);
    await queryRows(replicaClient, 'write', "INSERT INTO t VALUES ('after promote')");
  });

  it('does not adopt a killed postmaster and starts again after it', async () => {
    const pid = await readPostmasterPid(primary.dataDir);
    assert.ok(pid !== undefined);
    process.kill(pid, 'SIGKILL');
    await waitFor('the killed postmaster to be gone', async () => (await readPostmasterPid(primary.dataDir)) === undefined,
      { timeoutMs: 10_000 });
    // Its children notice the death and leave; until then a new postmaster refuses their shared memory.
    const again = await waitFor('a restart after the kill', () => start(primary), { timeoutMs: 30_000, intervalMs: 500 });
    assert.equal(await readPostmasterPid(primary.dataDir), again);
  });

  it('stops in each mode, escalating when a smart shutdown waits on a client', async () => {
    primaryClient = await superuser(primary);
    await stopPostgres(primary.dataDir, 'smart', 1_000, log);
    assert.equal(await readPostmasterPid(primary.dataDir), undefined);
    assert.ok(logLines.some((l) => l.includes('PostgreSQL did not stop in time') && l.includes('SIGTERM')));
    await stopPostgres(replica.dataDir, 'fast', 30_000, log);
    assert.equal(await readPostmasterPid(replica.dataDir), undefined);
    await start(primary);
    await stopPostgres(primary.dataDir, 'immediate', 30_000, log);
    await stopPostgres(primary.dataDir, 'immediate', 30_000, log);
    assert.equal(await readPostmasterPid(primary.dataDir), undefined);
  });

  it('fails fast with the log tail when PostgreSQL cannot start', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(primary.port, '127.0.0.1', resolve));
    try {
      await assert.rejects(start(primary), /exited during start[^]*could not bind IPv4 address/);
    } finally {
      blocker.close();
    }
  });

  it('writes no password to the logs and leaves no process behind', async () => {
    const texts = await Promise.all(members.map((m) => fs.readFile(m.logFile, 'utf8')));
    texts.push(logLines.join(''));
    for (const pw of Object.values(passwords)) assert.ok(!texts.some((t) => t.includes(pw)));
    await waitFor('no process working under the test directory', async () => {
      const pids = (await fs.readdir('/proc')).filter((e) => /^\d+$/.test(e));
      const cwds = await Promise.all(pids.map((pid) => fs.readlink(`/proc/${pid}/cwd`).catch(() => '')));
      return !cwds.some((c) => c.startsWith(tmp));
    }, { timeoutMs: 10_000 });
  });
});
