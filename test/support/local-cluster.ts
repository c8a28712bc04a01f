// A local cluster for e2e tests: its own PGPILOT_HOME, free ports, a manifest, and a cleanup that leaves nothing behind.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { ClusterStatus } from '../../src/model/status.js';
import { freePortRange } from '../../src/runner/ports.js';
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
  /** Stops and deletes the cluster; safe to call twice. */
  destroy(): Promise<void>;
}

export async function testCluster(name: string, maxInstances = 4): Promise<TestCluster> {
  const home = await fs.mkdtemp(path.join(os.tmpdir(), `pgpilot-${name}-`));
  await fs.chmod(home, 0o755);
  const pgPort = await freePortRange(maxInstances);
  const apiPort = await freePortRange(maxInstances);
  const env = { PGPILOT_HOME: home };
  return {
    name, home, env, pgPort, apiPort,
    async manifest(instances, extraSpec = '') {
      const file = path.join(home, `manifest-${instances}.yaml`);
      const text = [
        'apiVersion: pgpilot.dev/v1', 'kind: PostgresCluster', `metadata: {name: ${name}}`, 'spec:', `  instances: ${instances}`,
        `  postgres: {port: ${pgPort}, parameters: {max_connections: 50, shared_buffers: 32MB}}`, `  api: {port: ${apiPort}}`, extraSpec,
      ].join('\n');
      await fs.writeFile(file, text + '\n');
      return file;
    },
    async status() {
      return JSON.parse(await cliOk(['status', name, '--json'], env, 30_000)) as ClusterStatus;
    },
    async destroy() {
      const state = await fs.stat(path.join(home, name, 'state.json')).then(() => true, () => false);
      if (state) await runCli(['down', name, '--destroy', '--yes'], env, 180_000);
      await fs.rm(home, { recursive: true, force: true });
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
