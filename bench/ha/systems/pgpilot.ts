// A pgpilot cluster for the benchmark: `pgpilot up --detach` in a temporary PGPILOT_HOME on free ports, with the
// node-loss, crash, switchover and DCS-freeze actions a scenario needs, and a cleanup that leaves nothing behind.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePortRange } from '../../../src/runner/ports.js';
import { pgpilotBin, terminate, signalPid } from '../../../src/runner/processes.js';
import { readState } from '../../../src/runner/state.js';
import { runCli } from '../../../test/support/cli.js';
import { dynamicConfig, type HaCluster } from '../cluster.js';
import { copyLogs, findProcesses, postmasterPid, reapByMarker } from '../procs.js';

export interface PgpilotOptions {
  /** Cluster name (the DCS scope); members are NAME-0, NAME-1, NAME-2. */
  name: string;
  label?: string;
  /** `local.restart: never`, so that a killed agent stays dead until restoreNode(). */
  restartNever?: boolean;
  sync?: boolean;
  pooler?: boolean;
}

/** PostgreSQL parameters both systems get (Patroni's come from the anchors' patroni-up.sh). */
export const commonParameters = { wal_log_hints: 'on', max_wal_senders: 10, wal_keep_size: '512MB' } as const;

export async function startPgpilot(o: PgpilotOptions): Promise<HaCluster> {
  const home = await fsp.mkdtemp(path.join(os.tmpdir(), `pgpilot-bench-${o.name}-`));
  await fsp.chmod(home, 0o755);
  const env = { PGPILOT_HOME: home };
  const pgPort = await freePortRange(3);
  const apiPort = await freePortRange(3);
  const poolerPort = o.pooler === true ? await freePortRange(2) : undefined;
  const members = [0, 1, 2].map((i) => `${o.name}-${i}`);
  const dir = path.join(home, o.name);
  const memberDir = (m: string): string => path.join(dir, 'members', m);
  const manifest = path.join(home, 'manifest.yaml');
  const params = Object.entries(commonParameters).map(([k, v]) => `${k}: ${typeof v === 'string' ? `'${v}'` : v}`).join(', ');
  await fsp.writeFile(manifest, [
    'apiVersion: pgpilot.dev/v1', 'kind: PostgresCluster', `metadata: {name: ${o.name}}`, 'spec:', '  instances: 3',
    `  postgres: {port: ${pgPort}, parameters: {${params}}}`, `  api: {port: ${apiPort}}`,
    ...(o.restartNever === true ? ['  local: {restart: never}'] : []),
    ...(o.sync === true ? ['  synchronous: {mode: on}'] : []),
    ...(poolerPort !== undefined ? [`  pooler: {enabled: true, port: ${poolerPort}, mode: transaction}`] : []),
    '',
  ].join('\n'));
  const spawned: ChildProcess[] = [];
  let superuserPassword = '';

  const cluster: HaCluster = {
    kind: 'pgpilot',
    label: o.label ?? 'pgpilot',
    members,
    apiPorts: [0, 1, 2].map((i) => apiPort + i),
    config: {},
    directTargets: () => [0, 1, 2].map((i) => ({ host: '127.0.0.1', port: pgPort + i, user: 'postgres', password: superuserPassword, database: 'postgres' })),
    async pooledTarget() {
      if (poolerPort === undefined) return undefined;
      const r = await runCli(['connection', o.name, '--json'], env, 30_000);
      if (r.code !== 0) return undefined;
      const info = JSON.parse(r.stdout) as { user: string; password: string; dbname: string; poolerHost?: string; poolerPort?: number };
      if (info.poolerPort === undefined) return undefined;
      return { host: info.poolerHost ?? '127.0.0.1', port: info.poolerPort, user: info.user, password: info.password, database: info.dbname };
    },
    async killNode(member) {
      const pids = [...(await agentProcesses(member)).map((p) => p.pid), await postmasterPid(path.join(memberDir(member), 'data'))]
        .filter((p): p is number => p !== undefined);
      for (const pid of pids) signalPid(pid, 'SIGKILL');
      return pids;
    },
    async restoreNode(member) {
      const fd = fs.openSync(path.join(memberDir(member), 'agent.log'), 'a');
      try {
        spawned.push(spawn(process.execPath, [pgpilotBin, 'agent', '--config', path.join(memberDir(member), 'agent.yaml')], { stdio: ['ignore', fd, fd] }));
      } finally {
        fs.closeSync(fd);
      }
      await Promise.resolve();
    },
    async crashPostgres(member) {
      const pid = await postmasterPid(path.join(memberDir(member), 'data'));
      if (pid === undefined) throw new Error(`${member}: no postmaster.pid`);
      signalPid(pid, 'SIGKILL');
      return pid;
    },
    async switchover() {
      const r = await runCli(['switchover', o.name], env, 120_000);
      if (r.code !== 0) throw new Error(`pgpilot switchover exited ${r.code}: ${r.stderr.trim()}`);
      return r.stdout.trim();
    },
    async dcsPid() {
      const pid = (await readState(path.join(dir, 'state.json')))?.etcd?.pid;
      if (pid === undefined) throw new Error('state.json names no private etcd');
      return pid;
    },
    async agentPids() {
      const out: Array<{ member: string; pid: number }> = [];
      for (const m of members) for (const p of await agentProcesses(m)) out.push({ member: m, pid: p.pid });
      return out;
    },
    async otherPids() {
      const state = await readState(path.join(dir, 'state.json'));
      const out: Array<{ name: string; pid: number }> = [];
      if (state?.etcd?.pid !== undefined) out.push({ name: 'etcd', pid: state.etcd.pid });
      if (state?.supervisorPid !== undefined) out.push({ name: 'supervisor', pid: state.supervisorPid });
      for (const p of await findProcesses('pgbouncer', home)) out.push({ name: 'pgbouncer', pid: p.pid });
      return out;
    },
    agentLog: (member) => path.join(memberDir(member), 'agent.log'),
    async destroy(logsTo) {
      if (logsTo !== undefined) await copyLogs(dir, logsTo);
      for (const a of spawned) await terminate(a.pid, 30_000);
      if (fs.existsSync(path.join(dir, 'state.json'))) {
        const r = await runCli(['down', o.name, '--destroy', '--yes'], env, 180_000).catch((e: unknown) => ({ code: -1, stdout: '', stderr: String(e) }));
        if (r.code !== 0) process.stderr.write(`bench: pgpilot down ${o.name} exited ${r.code}: ${r.stderr.trim()}\n`);
      }
      const left = await reapByMarker(home);
      await fsp.rm(home, { recursive: true, force: true });
      return left;
    },
  };

  async function agentProcesses(member: string): Promise<Array<{ pid: number }>> {
    return findProcesses('agent', '--config', path.join(memberDir(member), 'agent.yaml'));
  }

  const up = await runCli(['up', '-f', manifest, '--detach'], env, 300_000).catch((e: unknown) => ({ code: -1, stdout: '', stderr: String(e) }));
  if (up.code !== 0) {
    // stop every process but keep the files: the logs say why it did not come up
    await runCli(['down', o.name], env, 180_000).catch(() => undefined);
    for (const a of spawned) await terminate(a.pid, 10_000);
    await reapByMarker(home);
    throw new Error(`pgpilot up exited ${up.code}: ${up.stderr.trim() || up.stdout.trim()} (files and logs kept in ${home})`);
  }
  superuserPassword = (await fsp.readFile(path.join(dir, 'secrets', 'superuser.password'), 'utf8')).trim();
  cluster.config = await dynamicConfig(cluster).catch(() => ({}));
  return cluster;
}
