// End-to-end: pgbouncer 1.18 in front of two PostgreSQL 15 servers: SCRAM logins, repoint, PAUSE/RESUME, stop.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { jsonLogger } from '../../src/base/log.js';
import { waitFor } from '../../src/base/wait.js';
import { writeConf } from '../../src/pg/conf.js';
import { writeHba } from '../../src/pg/hba.js';
import { initdb } from '../../src/pg/initdb.js';
import { ensureDir, resolveRunAs, type RunAs } from '../../src/pg/os-user.js';
import { startPostgres, stopPostgres } from '../../src/pg/postmaster.js';
import { connect, queryRows, type PgClient } from '../../src/pg/query.js';
import { scramVerifier } from '../../src/pooler/auth-file.js';
import { Pooler } from '../../src/pooler/pooler.js';
import { readPoolerPid, startPooler, stopPooler } from '../../src/pooler/process.js';
import { freePort } from '../../src/runner/ports.js';

const binDir = '/usr/lib/postgresql/15/bin';
const secret = (label: string): string => `${label}-${randomBytes(12).toString('hex')}`;
const passwords = { superuser: secret('su'), app: secret('app'), admin: secret('admin') };
const log = jsonLogger({ level: 'warn', write: () => undefined });

interface Server {
  dataDir: string;
  logFile: string;
  port: number;
  admin?: PgClient;
}

describe('pooler: pgbouncer in front of the primary', { timeout: 240_000 }, () => {
  let runAs: RunAs;
  let tmp = '';
  let pooler: Pooler;
  let pid: number | undefined;
  let roPid: number | undefined;
  const servers: Server[] = [];
  const clients: pg.Client[] = [];
  let a: Server;
  let b: Server;
  let app: pg.Client;
  let appVerifier = '';

  const appClient = async (password = passwords.app, port = pooler.port): Promise<pg.Client> => {
    // No statement_timeout: pgbouncer refuses startup parameters it does not know or ignore.
    const client = new pg.Client({ host: '127.0.0.1', port, user: 'app', password, database: 'app',
      connectionTimeoutMillis: 10_000, query_timeout: 60_000 });
    client.on('error', () => undefined);
    clients.push(client);
    await client.connect();
    return client;
  };
  const serverPort = async (client: pg.Client): Promise<number> =>
    Number((await client.query<{ port: number }>('SELECT inet_server_port() AS port')).rows[0]?.port);
  const notesOn = async (s: Server): Promise<string[]> =>
    (await queryRows<{ note: string }>(s.admin!, 'read notes', 'SELECT note FROM notes ORDER BY id')).map((r) => r.note);
  /** The console through a plain pg client, for what the Pooler API does not show (waiting clients). */
  const adminQuery = async (sql: string): Promise<Array<Record<string, unknown>>> => {
    const c = new pg.Client({ host: pooler.dir, port: pooler.port, user: 'pooler_admin', password: passwords.admin, database: 'pgbouncer' });
    await c.connect();
    try {
      return (await c.query<Record<string, unknown>>(sql)).rows;
    } finally {
      await c.end();
    }
  };
  const pgbouncers = async (): Promise<string[]> => {
    const { stdout } = await promisify(execFile)('pgrep', ['-a', 'pgbouncer']).catch(() => ({ stdout: '' }));
    return stdout.split('\n').filter((l) => l.includes(tmp));
  };
  const portFree = (port: number): Promise<boolean> => new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });

  const startServer = async (name: string, verifier: string): Promise<Server> => {
    const dir = path.join(tmp, name);
    await ensureDir(dir, 0o700, runAs);
    const s: Server = { dataDir: path.join(dir, 'data'), logFile: path.join(dir, 'postgres.log'), port: await freePort() };
    servers.push(s);
    await initdb({ binDir, dataDir: s.dataDir, runAs, superuser: 'postgres', superuserPasswordFile: path.join(tmp, 'superuser'), log });
    await writeConf({ dataDir: s.dataDir, listen: '127.0.0.1', port: s.port, socketDir: dir, parameters: {} }, runAs);
    await writeHba(s.dataDir, { listen: '127.0.0.1', replicationUser: 'replicator' }, runAs);
    await startPostgres({ binDir, dataDir: s.dataDir, runAs, logFile: s.logFile, log, timeoutMs: 30_000 });
    s.admin = await connect({ host: '127.0.0.1', port: s.port, user: 'postgres', password: passwords.superuser, database: 'postgres' });
    // The same verifier on both servers, as physical replication gives every member of a cluster.
    await queryRows(s.admin, 'create role app', `CREATE ROLE app LOGIN PASSWORD ${pg.escapeLiteral(verifier)}`);
    await queryRows(s.admin, 'create database app', 'CREATE DATABASE app OWNER app');
    await s.admin.end();
    s.admin = await connect({ host: '127.0.0.1', port: s.port, user: 'postgres', password: passwords.superuser, database: 'app' });
    await queryRows(s.admin, 'create table', 'CREATE TABLE notes (id serial PRIMARY KEY, note text); GRANT ALL ON notes, notes_id_seq TO app');
    return s;
  };

  before(async () => {
    runAs = await resolveRunAs('postgres');
    tmp = await fs.mkdtemp('/tmp/pgpilot-pooler-');
    await ensureDir(tmp, 0o755, runAs);
    await fs.writeFile(path.join(tmp, 'superuser'), `${passwords.superuser}\n`, { mode: 0o600 });
    appVerifier = await scramVerifier(passwords.app);
    const verifier = appVerifier;
    a = await startServer('a', verifier);
    b = await startServer('b', verifier);
    pooler = new Pooler({ name: 'rw', dir: path.join(tmp, 'rw'), listenAddr: '127.0.0.1', port: await freePort(),
      poolMode: 'transaction', databases: ['app'], admin: { user: 'pooler_admin', password: passwords.admin }, runAs });
    assert.equal(await pooler.writeAuth([{ user: 'app', verifier }]), true);
    assert.equal(await pooler.writeAuth([{ user: 'app', verifier }]), false, 'the admin verifier is kept');
    assert.equal(await pooler.writeConfig([{ host: '127.0.0.1', port: a.port }]), true);
    pid = await startPooler({ iniFile: pooler.iniFile, runAs, logFile: pooler.logFile });
  });

  after(async () => {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
    for (const p of [pid, roPid]) if (p !== undefined) await stopPooler(p, { timeoutMs: 2_000 });
    for (const s of servers) {
      if (s.admin !== undefined) await s.admin.end().catch(() => undefined);
      await stopPostgres(s.dataDir, 'immediate', 5_000, log);
    }
    const left = await pgbouncers();
    if (tmp !== '') await fs.rm(tmp, { recursive: true, force: true });
    assert.deepEqual(left, [], 'no pgbouncer of this test is left');
  });

  it('lets the app role in with its own password, writes landing on server A', async () => {
    for (const file of [pooler.iniFile, pooler.authFile]) {
      const st = await fs.stat(file);
      assert.deepEqual([st.mode & 0o777, st.uid], [0o600, runAs.uid], file);
    }
    assert.equal(await readPoolerPid(pooler.pidFile), pid);
    // A verifier made by auth-file.ts is one PostgreSQL accepts directly, too.
    await (await connect({ host: '127.0.0.1', port: a.port, user: 'app', password: passwords.app, database: 'app' })).end();
    app = await appClient();
    assert.equal(await serverPort(app), a.port);
    await app.query("INSERT INTO notes (note) VALUES ('on a')");
    assert.deepEqual(await notesOn(a), ['on a']);
    assert.deepEqual(await notesOn(b), []);
    const status = await pooler.status();
    assert.deepEqual(status.databases.map((d) => [d.name, d.host, d.port, d.paused]), [['app', '127.0.0.1', a.port, false]]);
    assert.equal(status.paused, false);
  });

  it('refuses a second pgbouncer on the same port', async () => {
    await assert.rejects(startPooler({ iniFile: pooler.iniFile, runAs, logFile: pooler.logFile }), /already in use/);
    assert.equal(await readPoolerPid(pooler.pidFile), pid);
  });

  it('repoints to server B: the same client connection sends its next transaction there', async () => {
    const target = [{ host: '127.0.0.1', port: b.port }];
    assert.deepEqual(await pooler.pointAt(target), { changed: true, killed: [] });
    assert.deepEqual(await pooler.pointAt(target), { changed: false, killed: [] }, 'no second RELOAD for the same targets');
    assert.deepEqual((await pooler.status()).databases.map((d) => [d.host, d.port]), [['127.0.0.1', b.port]]);
    assert.equal(await serverPort(app), b.port);
    await app.query("INSERT INTO notes (note) VALUES ('on b')");
    assert.deepEqual(await notesOn(b), ['on b']);
    assert.deepEqual(await notesOn(a), ['on a']);
    // The connection to the old target is closed, not kept for reuse.
    await waitFor('no server connection to A', async () =>
      (await pooler.admin.servers()).every((s) => s.port !== a.port), { timeoutMs: 10_000, intervalMs: 100 });
  });

  it('PAUSE holds a query without failing it; a repoint meanwhile keeps the pause; RESUME sends it to the new target', async () => {
    await pooler.pause(5_000);
    assert.equal((await pooler.status()).paused, true);
    assert.equal(await pooler.admin.isPaused('app'), true);
    let settled = false;
    const held = serverPort(app).finally(() => void (settled = true));
    await waitFor('the query to wait in the pool', async () =>
      (await adminQuery('SHOW POOLS')).some((p) => p.database === 'app' && Number(p.cl_waiting) >= 1), { timeoutMs: 10_000, intervalMs: 100 });
    assert.equal(settled, false);
    // The switchover's order: pause, repoint (back to A here), resume.
    assert.deepEqual(await pooler.pointAt([{ host: '127.0.0.1', port: a.port }]), { changed: true, killed: [] });
    assert.equal((await pooler.status()).paused, true);
    assert.equal(settled, false);
    await pooler.resume();
    assert.equal(await held, a.port);
    assert.equal((await pooler.status()).paused, false);
    await pooler.resume();
  });

  it('a PAUSE that cannot finish in time is undone', async () => {
    await app.query('BEGIN');
    await app.query("INSERT INTO notes (note) VALUES ('in a transaction')");
    await assert.rejects(pooler.pause(1_000), /could not pause database app/);
    assert.equal((await pooler.status()).paused, false);
    await app.query('COMMIT');
    assert.deepEqual(await notesOn(a), ['on a', 'in a transaction']);
  });

  it('refuses a wrong password', async () => {
    await assert.rejects(appClient('wrong'), /SASL authentication failed|password authentication failed/);
  });

  it('with no target, a new connection fails at once with a clear error', async () => {
    assert.deepEqual(await pooler.pointAt([]), { changed: true, killed: [] });
    // pgbouncer drops a database removed from the ini, and its clients with it ("database removed").
    await assert.rejects(serverPort(app));
    const started = Date.now();
    await assert.rejects(appClient(), /no such database: app/);
    assert.ok(Date.now() - started < 5_000, 'it does not wait for a server');
    assert.equal((await pooler.status()).databases.length, 0);
    assert.deepEqual(await pooler.pointAt([{ host: '127.0.0.1', port: a.port }]), { changed: true, killed: [] });
    assert.equal(await serverPort(await appClient()), a.port);
  });

  it('a session-pooling ro pooler picks the least-lagging replica and cuts sessions left on the old one', async () => {
    const ro = new Pooler({ name: 'ro', dir: path.join(tmp, 'ro'), listenAddr: '127.0.0.1', port: await freePort(),
      poolMode: 'session', databases: ['app'], admin: { user: 'pooler_admin', password: passwords.admin }, runAs });
    await ro.writeAuth([]);
    await ro.writeConfig([{ host: '127.0.0.1', port: a.port }]);
    roPid = await startPooler({ iniFile: ro.iniFile, runAs, logFile: ro.logFile });
    await assert.rejects(appClient(passwords.app, ro.port), /SASL authentication failed/, 'app is not in the auth_file yet');
    assert.equal(await ro.updateAuth([{ user: 'app', verifier: appVerifier }]), true);
    assert.equal(await ro.updateAuth([{ user: 'app', verifier: appVerifier }]), false);
    const session = await appClient(passwords.app, ro.port);
    assert.equal(await serverPort(session), a.port);
    const replicas = [{ host: '127.0.0.1', port: a.port, lagBytes: 4096 }, { host: '127.0.0.1', port: b.port, lagBytes: 0 }];
    assert.deepEqual(await ro.pointAt(replicas), { changed: true, killed: ['app'] });
    await assert.rejects(serverPort(session));
    assert.equal(await serverPort(await appClient(passwords.app, ro.port)), b.port);
    assert.equal((await ro.status()).paused, false);
    await stopPooler(roPid, { timeoutMs: 1_000 }); // sessions still open: SIGINT waits on them, SIGTERM ends it
    roPid = undefined;
  });

  it('stopPooler leaves no process and frees the port', async () => {
    assert.ok(pid !== undefined);
    await stopPooler(pid);
    assert.equal(await readPoolerPid(pooler.pidFile), undefined);
    assert.deepEqual(await pgbouncers(), []);
    assert.equal(await portFree(pooler.port), true);
    pid = undefined;
    // A repoint whose RELOAD fails is reloaded by the next pointAt, though the file then already says it.
    const toB = [{ host: '127.0.0.1', port: b.port }];
    await assert.rejects(pooler.pointAt(toB), /could not reload on the pooler/);
    pid = await startPooler({ iniFile: pooler.iniFile, runAs, logFile: pooler.logFile });
    assert.deepEqual(await pooler.pointAt(toB), { changed: true, killed: [] });
    assert.deepEqual(await pooler.pointAt(toB), { changed: false, killed: [] });
    assert.equal(await serverPort(await appClient()), b.port);
    await stopPooler(pid);
    pid = undefined;
    assert.deepEqual(await pgbouncers(), []);
  });

  it('fails to start with the log tail when pgbouncer rejects its config', async () => {
    const bad = path.join(pooler.dir, 'bad.ini');
    await fs.writeFile(bad, (await fs.readFile(pooler.iniFile, 'utf8')).replace('pool_mode = transaction', 'pool_mode = nonsense'));
    await fs.chown(bad, runAs.uid, runAs.gid);
    await assert.rejects(startPooler({ iniFile: bad, runAs, logFile: pooler.logFile }), /exited \(exit code 1\)[^]*pool_mode/);
    assert.deepEqual(await pgbouncers(), []);
  });

  it('a host list spreads new server connections over replicas that share a port', async () => {
    // B moves to 127.0.0.2 on A's port: one database entry `host=127.0.0.1,127.0.0.2 port=P` then reaches both.
    await stopPostgres(b.dataDir, 'fast', 10_000, log);
    await writeConf({ dataDir: b.dataDir, listen: '127.0.0.2', port: a.port, socketDir: path.dirname(b.dataDir), parameters: {} }, runAs);
    await startPostgres({ binDir, dataDir: b.dataDir, runAs, logFile: b.logFile, log, timeoutMs: 30_000 });
    const ro = new Pooler({ name: 'ro', dir: path.join(tmp, 'ro-list'), listenAddr: '127.0.0.1', port: await freePort(),
      poolMode: 'session', databases: ['app'], admin: { user: 'pooler_admin', password: passwords.admin }, runAs });
    await ro.writeAuth([{ user: 'app', verifier: appVerifier }]);
    await ro.writeConfig([{ host: '127.0.0.2', port: a.port }, { host: '127.0.0.1', port: a.port }]);
    roPid = await startPooler({ iniFile: ro.iniFile, runAs, logFile: ro.logFile });
    assert.deepEqual((await ro.status()).databases.map((d) => [d.host, d.port]), [['127.0.0.1,127.0.0.2', a.port]]);
    const seen = new Set<unknown>();
    for (let i = 0; i < 2; i++) {
      const session = await appClient(passwords.app, ro.port);
      seen.add((await session.query<{ addr: string }>('SELECT host(inet_server_addr()) AS addr')).rows[0]?.addr);
    }
    assert.deepEqual([...seen].sort(), ['127.0.0.1', '127.0.0.2']);
    await stopPooler(roPid, { timeoutMs: 1_000 }); // sessions still open: SIGINT waits on them, SIGTERM ends it
    roPid = undefined;
  });
});
