// A Patroni 3.0.2 cluster for the benchmark, started by the anchors' own ../shared/anchors/patroni-up.sh (one etcd,
// three members on loopback, run as the postgres user), with the same actions as the pgpilot side.
import { signalPid } from '../../../src/runner/processes.js';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { portInUse } from '../../../src/runner/ports.js';
import { dynamicConfig, waitHealthy, type HaCluster } from '../cluster.js';
import { copyLogs, findProcesses, postmasterPid, reapByMarker } from '../procs.js';

const run = promisify(execFile);

/** Where patroni-up.sh puts everything (fixed by the script). */
export const patroniBase = '/tmp/anchor-patroni';
/** Loopback ports patroni-up.sh uses: etcd client and peer, PostgreSQL 5431-5433, REST API 8001-8003. */
const fixedPorts = [2379, 2380, 5431, 5432, 5433, 8001, 8002, 8003];

/** The anchors directory: $PGPILOT_ANCHORS, else ../shared/anchors beside the checkout. */
export function anchorsDir(): string {
  const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
  return process.env['PGPILOT_ANCHORS'] ?? path.resolve(repo, '../shared/anchors');
}

export interface PatroniOptions {
  label: string;
  ttl: number;
  loopWait: number;
  retryTimeout: number;
  sync?: boolean;
}

/** Whether Patroni can run here: the script, the patroni executable, and free fixed ports. */
export async function patroniUnavailable(): Promise<string | undefined> {
  const script = path.join(anchorsDir(), 'patroni-up.sh');
  if (!fs.existsSync(script)) return `${script} is missing (set PGPILOT_ANCHORS to the anchors directory)`;
  try {
    await run('patroni', ['--version']);
  } catch {
    return 'the patroni executable is missing (scripts/setup.sh --test installs it)';
  }
  return undefined;
}

export async function startPatroni(o: PatroniOptions): Promise<HaCluster> {
  const busy: number[] = [];
  for (const p of fixedPorts) if (await portInUse(p)) busy.push(p);
  if (busy.length > 0) throw new Error(`ports ${busy.join(', ')} are in use; patroni-up.sh needs them`);
  const members = ['p1', 'p2', 'p3'];
  const B = patroniBase;
  const agentProcesses = (m: string): Promise<Array<{ pid: number }>> =>
    findProcesses('patroni', `${B}/${m}.yml`).then((ps) => ps.filter((p) => !p.argv.some((a) => a === 'su' || a.endsWith('/su'))));
  const cluster: HaCluster = {
    kind: 'patroni',
    label: o.label,
    members,
    apiPorts: [8001, 8002, 8003],
    config: {},
    directTargets: () => [5431, 5432, 5433].map((port) => ({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' })),
    pooledTarget: () => Promise.resolve(undefined),
    async killNode(member) {
      const pids = [...(await agentProcesses(member)).map((p) => p.pid), await postmasterPid(`${B}/data${member.slice(1)}`)]
        .filter((p): p is number => p !== undefined);
      for (const pid of pids) signalPid(pid, 'SIGKILL');
      return pids;
    },
    async restoreNode(member) {
      // as patroni-up.sh starts a member
      await run('su', ['postgres', '-s', '/bin/bash', '-c', `patroni ${B}/${member}.yml >>${B}/${member}.log 2>&1 & echo $! >> ${B}/pids`]);
    },
    async crashPostgres(member) {
      const pid = await postmasterPid(`${B}/data${member.slice(1)}`);
      if (pid === undefined) throw new Error(`${member}: no postmaster.pid`);
      signalPid(pid, 'SIGKILL');
      return pid;
    },
    async switchover(leader) {
      const r = await run('patronictl', ['-c', `${B}/p1.yml`, 'switchover', '--leader', leader, '--force'], { timeout: 120_000 });
      return r.stdout.trim();
    },
    async dcsPid() {
      const p = (await findProcesses('etcd', `--data-dir ${B}/etcd`))[0];
      if (p === undefined) throw new Error('no etcd process for Patroni');
      return p.pid;
    },
    async agentPids() {
      const out: Array<{ member: string; pid: number }> = [];
      for (const m of members) for (const p of await agentProcesses(m)) out.push({ member: m, pid: p.pid });
      return out;
    },
    async otherPids() {
      return (await findProcesses('etcd', `--data-dir ${B}/etcd`)).map((p) => ({ name: 'etcd', pid: p.pid }));
    },
    agentLog: (member) => `${B}/${member}.log`,
    async destroy(logsTo) {
      if (logsTo !== undefined) await copyLogs(B, logsTo);
      // patroni-up.sh has no stop: this is how Patroni stops here (agents and etcd killed, then postmasters shut down)
      await reapByMarker(B);
      const left = (await findProcesses(B)).map((p) => p.argv.join(' '));
      await fsp.rm(B, { recursive: true, force: true });
      return left;
    },
  };
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn('bash', [path.join(anchorsDir(), 'patroni-up.sh'), String(o.ttl), String(o.loopWait), String(o.retryTimeout), String(o.sync === true)], { stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.on('error', reject);
      child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`patroni-up.sh exited ${code}: ${err.trim()}`))));
    });
    await waitHealthy(cluster, { sync: o.sync ?? false, timeoutMs: 180_000 });
    cluster.config = await dynamicConfig(cluster);
  } catch (e) {
    await cluster.destroy();
    throw e;
  }
  return cluster;
}
