// A local cluster for e2e tests: its own PGPILOT_HOME, free ports, a manifest, and a cleanup that leaves nothing behind.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { ClusterStatus } from '../../src/model/status.js';
import { freePortRange } from '../../src/runner/ports.js';
import { pgpilotBin, terminate } from '../../src/runner/processes.js';
import type { Target } from './writer.js';
import { cliOk, runCli } from './cli.js';

export interface TestCluster {
  name: string;
  home: string;
  env: NodeJS.ProcessEnv;
  pgPort: number;
  apiPort: number;
  /** Writes a manifest with these instances (and extra spec YAML lines) and returns its path. */
  manifest(instances: number, extraSpec?: string): Promise<string>;
  status(): Promise<ClusterStatus>;
  /** Superuser connection settings of a member's PostgreSQL. */
  superuser(port: number, database?: string): Promise<Target>;
  /** Node loss: SIGKILL the member's agent and its postmaster. */
  killNode(member: string): Promise<void>;
  /** The node comes back: starts the member's agent by hand (the supervisor does not restart it with restart: never). */
  startAgent(member: string): void;
  /** Status and each member's latest log lines, for a failed wait to show what the agents were doing. */
  diagnostics(): Promise<string>;
  /** Stops and deletes the cluster; safe to call twice. */
  destroy(): Promise<void>;
}

export async function testCluster(name: string, maxInstances = 4): Promise<TestCluster> {
  const home = await fsp.mkdtemp(path.join(os.tmpdir(), `pgpilot-${name}-`));
  await fsp.chmod(home, 0o755);
  const pgPort = await freePortRange(maxInstances);
  const apiPort = await freePortRange(maxInstances);
  const env = { PGPILOT_HOME: home };
  const agents: ChildProcess[] = [];
  const memberDir = (m: string): string => path.join(home, name, 'members', m);
  const status = async (): Promise<ClusterStatus> => JSON.parse(await cliOk(['status', name, '--json'], env, 30_000)) as ClusterStatus;
  return {
    name, home, env, pgPort, apiPort, status,
    async manifest(instances, extraSpec = '') {
      const file = path.join(home, `manifest-${instances}.yaml`);
      const text = [
        'apiVersion: pgpilot.dev/v1', 'kind: PostgresCluster', `metadata: {name: ${name}}`, 'spec:', `  instances: ${instances}`,
        `  postgres: {port: ${pgPort}, parameters: {max_connections: 50, shared_buffers: 32MB}}`, `  api: {port: ${apiPort}}`, extraSpec,
      ].join('\n');
      await fsp.writeFile(file, text + '\n');
      return file;
    },
    async superuser(port, database = 'postgres') {
      const password = (await fsp.readFile(path.join(home, name, 'secrets', 'superuser.password'), 'utf8')).trim();
      return { host: '127.0.0.1', port, user: 'postgres', password, database };
    },
    async killNode(member) {
      const m = (await status()).members.find((x) => x.name === member);
      if (m === undefined) throw new Error(`no member ${member}`);
      for (const pid of [m.agentPid, m.postgresPid]) if (pid !== null) process.kill(pid, 'SIGKILL');
    },
    startAgent(member) {
      const log = fs.openSync(path.join(memberDir(member), 'agent.log'), 'a');
      const child = spawn(process.execPath, [pgpilotBin, 'agent', '--config', path.join(memberDir(member), 'agent.yaml')], { stdio: ['ignore', log, log] });
      fs.closeSync(log);
      agents.push(child);
    },
    async diagnostics() {
      const status = await cliOk(['status', name], env, 30_000).catch((e: unknown) => String(e));
      const logs = await Promise.all((await fsp.readdir(path.join(home, name, 'members')).catch(() => [])).map(async (m) => {
        const agent = await fsp.readFile(path.join(memberDir(m), 'agent.log'), 'utf8').catch(() => '');
        const pgLog = await fsp.readFile(path.join(memberDir(m), 'postgres.log'), 'utf8').catch(() => '');
        const tail = (text: string, n: number): string => text.split('\n').filter((l) => l !== '' && !l.includes('"level":"debug"')).slice(-n).join('\n');
        return `--- ${m} agent\n${tail(agent, 15)}\n--- ${m} postgres\n${tail(pgLog, 8)}`;
      }));
      return `${status}\n${logs.join('\n')}`;
    },
    async destroy() {
      for (const a of agents) await terminate(a.pid, 30_000);
      const state = await fsp.stat(path.join(home, name, 'state.json')).then(() => true, () => false);
      if (state) await runCli(['down', name, '--destroy', '--yes'], env, 180_000);
      await fsp.rm(home, { recursive: true, force: true });
    },
  };
}

/** Runs one query with a fresh connection and closes it. */
export async function query<T extends pg.QueryResultRow>(connection: string | pg.ClientConfig, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client(typeof connection === 'string' ? { connectionString: connection } : connection);
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}
