// The supervisor behind `pgpilot up`: runs the private etcd and one agent per member, restarts dead agents,
// reconciles the member set on SIGHUP (after `apply`), and stops everything on SIGTERM.
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import { errorMessage } from '../base/errors.js';
import type { Logger } from '../base/log.js';
import { sleep } from '../base/wait.js';
import { loadManifest } from '../config/manifest.js';
import type { Manifest } from '../config/types.js';
import { resolveRunAs } from '../pg/os-user.js';
import { poolerAdminUser, poolerPair } from '../pooler/pair.js';
import { startPooler, stopPooler } from '../pooler/process.js';
import { readSecretFile } from './secrets.js';
import { renderAgentConfig } from '../config/agent-config.js';
import type { AgentConfig } from '../config/types.js';
import { ClusterStore } from '../dcs/cluster-store.js';
import { etcdKv } from '../dcs/etcd/etcd-kv.js';
import { startEtcd } from './etcd-server.js';
import { clusterPaths, type ClusterPaths } from './layout.js';
import { memberConfigs } from './member-config.js';
import { agentNodeArgs, spawnPgpilot, terminate } from './processes.js';
import { readState, writeState, type RunnerState } from './state.js';
import { stopPostgres } from '../pg/postmaster.js';

interface RunningAgent {
  config: AgentConfig;
  child: ChildProcess | undefined;
  restarts: number;
  stopping: boolean;
}

const agentStopGraceMs = 40_000;

export async function runSupervisor(name: string, home: string, logger: Logger): Promise<void> {
  const paths = clusterPaths(name, home);
  const state = await requireState(paths);
  let stopping = false;
  const agents = new Map<string, RunningAgent>();
  const etcd = state.etcd === undefined ? undefined : await startPrivateEtcd(paths, state);
  if (etcd !== undefined && state.etcd !== undefined) state.etcd.pid = etcd.pid;
  const startManifest = await loadManifest(paths.manifest);
  state.poolers = startManifest.spec.pooler.enabled ? await startPoolers(paths, startManifest, logger) : undefined;
  state.supervisorPid = process.pid;
  await writeState(paths.state, state);

  const recordPids = async (): Promise<void> => {
    for (const [member, agent] of agents) {
      const entry = state.members[member];
      if (entry !== undefined) entry.agentPid = agent.child?.pid;
    }
    await writeState(paths.state, state);
  };

  const startAgent = (agent: RunningAgent): void => {
    const member = paths.member(agent.config.name);
    const child = spawnPgpilot(['agent', '--config', member.agentConfig], member.agentLog, { detached: false, nodeArgs: agentNodeArgs });
    agent.child = child;
    child.on('exit', (code, signal) => {
      agent.child = undefined;
      if (stopping || agent.stopping) return;
      logger.warn('agent exited', { member: agent.config.name, code, signal });
      void onAgentExit(agent);
    });
  };

  const onAgentExit = async (agent: RunningAgent): Promise<void> => {
    const manifest = await loadManifest(paths.manifest);
    if (manifest.spec.local.restart !== 'always') return recordPids();
    agent.restarts += 1;
    await sleep(Math.min(1000 * agent.restarts, 10_000));
    if (stopping || agent.stopping) return;
    logger.info('restarting agent', { member: agent.config.name, restarts: agent.restarts });
    startAgent(agent);
    await recordPids();
  };

  const reconcile = async (): Promise<void> => {
    const manifest = await loadManifest(paths.manifest);
    const restored = await fs.stat(paths.restoredMarker).then(() => true, () => false);
    const desired = memberConfigs(manifest, state.dcsEndpoints, home, restored);
    for (const config of desired) {
      if (agents.has(config.name)) continue;
      const member = paths.member(config.name);
      await fs.mkdir(member.dir, { recursive: true, mode: 0o755 });
      await fs.writeFile(member.agentConfig, renderAgentConfig(config), { mode: 0o600 });
      state.members[config.name] = { pgPort: config.postgres.port, apiPort: config.api.port, agentPid: undefined };
      const agent: RunningAgent = { config, child: undefined, restarts: 0, stopping: false };
      agents.set(config.name, agent);
      logger.info('starting agent', { member: config.name });
      startAgent(agent);
    }
    const keep = new Set(desired.map((c) => c.name));
    for (const [member, agent] of agents) {
      if (keep.has(member)) continue;
      logger.info('removing member', { member });
      await stopAgent(agent);
      agents.delete(member);
      delete state.members[member];
      await forgetMember(state, manifest.spec.dcs.namespace, name, member, logger);
      await fs.rm(paths.member(member).dir, { recursive: true, force: true });
    }
    await recordPids();
  };

  const stopAgent = async (agent: RunningAgent): Promise<void> => {
    agent.stopping = true;
    if (await terminate(agent.child?.pid, agentStopGraceMs)) logger.warn('agent did not stop in time: killed', { member: agent.config.name });
    await stopPostgres(paths.member(agent.config.name).dataDir, 'fast', 20_000, logger);
  };

  let queue = Promise.resolve();
  const enqueue = (what: string, job: () => Promise<void>): void => {
    queue = queue.then(job).catch((e: unknown) => logger.error(`${what} failed`, { error: errorMessage(e) }));
  };
  const shutdown = async (): Promise<void> => {
    stopping = true;
    logger.info('stopping cluster');
    await Promise.all([...agents.values()].map(stopAgent));
    for (const p of state.poolers ?? []) if (p.pid !== undefined) await stopPooler(p.pid);
    state.poolers = state.poolers?.map((p) => ({ ...p, pid: undefined }));
    await etcd?.stop();
    state.supervisorPid = undefined;
    if (state.etcd !== undefined) state.etcd.pid = undefined;
    for (const m of Object.values(state.members)) m.agentPid = undefined;
    await writeState(paths.state, state);
    logger.info('cluster stopped');
  };
  const done = new Promise<void>((resolve) => {
    const onStop = (): void => {
      if (stopping) return;
      enqueue('shutdown', async () => {
        await shutdown();
        resolve();
      });
    };
    process.on('SIGTERM', onStop);
    process.on('SIGINT', onStop);
  });
  process.on('SIGHUP', () => enqueue('reconcile', reconcile));
  enqueue('start', reconcile);
  await done;
}

/** Writes both poolers' files with no target (clients fail fast until a leader points them) and starts them. */
async function startPoolers(paths: ClusterPaths, manifest: Manifest, logger: Logger): Promise<RunnerState['poolers']> {
  const runAs = await resolveRunAs('postgres');
  const password = await readSecretFile(paths.superuserPassword);
  // Traversable by the pooler's user; each pooler's own directory below is private to it.
  await fs.mkdir(paths.poolerDir, { recursive: true, mode: 0o755 });
  const { spec } = manifest;
  const listen = spec.postgres.listen === '0.0.0.0' || spec.postgres.listen === '*' ? '0.0.0.0' : '127.0.0.1';
  const pair = poolerPair({ dir: paths.poolerDir, listen, port: spec.pooler.port, mode: spec.pooler.mode, databases: spec.databases.map((d) => d.name), admin: { user: poolerAdminUser, password }, runAs });
  const started = [];
  for (const pooler of [pair.rw, pair.ro]) {
    await pooler.writeConfig([]);
    await pooler.writeAuth([]);
    const pid = await startPooler({ iniFile: pooler.iniFile, runAs, logFile: pooler.logFile });
    logger.info('pooler started', { pooler: pooler.name, port: pooler.port, pid });
    started.push({ name: pooler.name, port: pooler.port, pid });
  }
  return started;
}

async function requireState(paths: ClusterPaths): Promise<RunnerState> {
  const state = await readState(paths.state);
  if (state === undefined) throw new Error(`no runner state at ${paths.state}`);
  return state;
}

async function startPrivateEtcd(paths: ClusterPaths, state: RunnerState): Promise<{ pid: number; stop(): Promise<void> }> {
  const ports = state.etcd;
  if (ports === undefined) throw new Error('no etcd ports in state');
  return startEtcd({ dataDir: paths.etcdDir, clientPort: ports.clientPort, peerPort: ports.peerPort, name: state.name, logFile: paths.etcdLog });
}

/** Deletes a removed member's key so the leader drops its replication slot at once. */
async function forgetMember(state: RunnerState, namespace: string, scope: string, member: string, logger: Logger): Promise<void> {
  const kv = etcdKv({ endpoints: state.dcsEndpoints });
  try {
    await new ClusterStore(kv, namespace, scope).deleteMember(member);
  } catch (e) {
    logger.warn('could not delete the member key of a removed member', { member, error: errorMessage(e) });
  } finally {
    await kv.close();
  }
}
