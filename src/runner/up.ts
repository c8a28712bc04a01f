// `pgpilot up`: validate the manifest, prepare files and secrets, start the supervisor, wait until healthy.
import fs from 'node:fs/promises';
import { PgpilotError, errorMessage } from '../base/errors.js';
import { waitFor } from '../base/wait.js';
import { loadManifest } from '../config/manifest.js';
import type { Manifest } from '../config/types.js';
import { unhealthyReason, type ClusterStatus } from '../model/status.js';
import { loadStatus } from './cluster-access.js';
import { clusterPaths, memberName, type ClusterPaths } from './layout.js';
import { freePort, portInUse } from './ports.js';
import { spawnPgpilot } from './processes.js';
import { ensureSecretFile } from './secrets.js';
import { processAlive, readState, writeState, type RunnerState } from './state.js';

export interface UpResult {
  alreadyRunning: boolean;
  manifest: Manifest;
  status: ClusterStatus;
}

const healthyTimeoutMs = 180_000;

export async function up(file: string, home: string): Promise<UpResult> {
  // Validate first: a bad manifest starts nothing.
  const manifest = await loadManifest(file);
  const name = manifest.metadata.name;
  const paths = clusterPaths(name, home);
  const previous = await readState(paths.state);
  if (previous !== undefined && processAlive(previous.supervisorPid)) {
    const address = { name, endpoints: previous.dcsEndpoints, namespace: previous.namespace, home };
    return { alreadyRunning: true, manifest, status: await loadStatus(address) };
  }
  await checkPortsFree(manifest);
  await prepareFiles(paths, manifest, file);
  const state = await initialState(manifest, previous);
  await writeState(paths.state, state);
  // The supervisor owns every process of the cluster and outlives this command.
  const supervisor = spawnPgpilot(['supervise', name], paths.supervisorLog, { detached: true, env: { ...process.env, PGPILOT_HOME: home } });
  // Our own child: a dead one stays a zombie until we exit, so watch its exit event rather than its pid.
  let supervisorExited = false;
  supervisor.once('exit', () => (supervisorExited = true));
  state.supervisorPid = supervisor.pid;
  await writeState(paths.state, state);
  const address = { name, endpoints: state.dcsEndpoints, namespace: state.namespace, home };
  const members = Array.from({ length: manifest.spec.instances }, (_, i) => memberName(name, i));
  const status = await waitHealthy(address, members, () => !supervisorExited, paths);
  return { alreadyRunning: false, manifest, status };
}

export async function waitHealthy(
  address: { name: string; endpoints: string[]; namespace: string; home: string },
  members: string[],
  supervisorAlive: () => boolean,
  paths: ClusterPaths,
): Promise<ClusterStatus> {
  let last = 'no answer from the DCS yet';
  let outcome: ClusterStatus | 'supervisor exited';
  try {
    outcome = await waitFor(
      `cluster ${address.name} to be healthy`,
      async () => {
        if (!supervisorAlive()) return 'supervisor exited' as const;
        const status = await loadStatus(address).catch((e: unknown) => void (last = errorMessage(e)));
        if (status === undefined) return undefined;
        const why = unhealthyReason(status, members);
        if (why !== undefined) last = why;
        return why === undefined ? status : undefined;
      },
      { timeoutMs: healthyTimeoutMs, intervalMs: 500 },
    );
  } catch {
    throw new PgpilotError('Timeout', `cluster ${address.name} did not become healthy in ${healthyTimeoutMs / 1000} s: ${last}`, {
      hint: `see ${paths.dir}/members/*/agent.log and postgres.log; stop it with \`pgpilot down ${address.name}\``,
    });
  }
  if (outcome === 'supervisor exited') {
    const log = await fs.readFile(paths.supervisorLog, 'utf8').catch(() => '');
    const tail = log.trim().split('\n').slice(-3).join('\n');
    throw new PgpilotError('State', `the supervisor of ${address.name} exited before the cluster was healthy:\n${tail}`, { hint: `see ${paths.supervisorLog}` });
  }
  return outcome;
}

/** Refuses a manifest whose PostgreSQL or API ports something already listens on. */
export async function checkPortsFree(manifest: Manifest): Promise<void> {
  const { spec } = manifest;
  const busy: string[] = [];
  for (let i = 0; i < spec.instances; i++) {
    const member = memberName(manifest.metadata.name, i);
    if (await portInUse(spec.postgres.port + i)) busy.push(`${spec.postgres.port + i} (PostgreSQL of ${member}, spec.postgres.port)`);
    if (await portInUse(spec.api.port + i)) busy.push(`${spec.api.port + i} (REST API of ${member}, spec.api.port)`);
  }
  if (busy.length > 0) {
    throw new PgpilotError('State', `ports already in use: ${busy.join(', ')}`, {
      hint: 'stop what listens there, or choose other ports in spec.postgres.port / spec.api.port',
    });
  }
}

export async function prepareFiles(paths: ClusterPaths, manifest: Manifest, file: string): Promise<void> {
  // Directories stay traversable (0755) so the unprivileged PostgreSQL user reaches its data directory.
  await fs.mkdir(paths.dir, { recursive: true, mode: 0o755 });
  await fs.mkdir(paths.secretsDir, { recursive: true, mode: 0o700 });
  await fs.copyFile(file, paths.manifest);
  await fs.chmod(paths.manifest, 0o600);
  await ensureSecretFile(paths.superuserPassword);
  await ensureSecretFile(paths.replicationPassword);
  await ensureSecretFile(paths.apiToken);
  for (const user of manifest.spec.users) await ensureSecretFile(paths.userPassword(user.name));
}

async function initialState(manifest: Manifest, previous: RunnerState | undefined): Promise<RunnerState> {
  const { spec } = manifest;
  const name = manifest.metadata.name;
  if (spec.dcs.endpoints.length > 0) {
    return { name, supervisorPid: undefined, dcsEndpoints: spec.dcs.endpoints, namespace: spec.dcs.namespace, etcd: undefined, members: {} };
  }
  // Keep the private etcd's ports across restarts when they are still free: agents' configs name them.
  const reuse = previous?.etcd !== undefined && !(await portInUse(previous.etcd.clientPort)) && !(await portInUse(previous.etcd.peerPort));
  const clientPort = reuse && previous?.etcd !== undefined ? previous.etcd.clientPort : await freePort();
  const peerPort = reuse && previous?.etcd !== undefined ? previous.etcd.peerPort : await freePort();
  return {
    name,
    supervisorPid: undefined,
    dcsEndpoints: [`http://127.0.0.1:${clientPort}`],
    namespace: spec.dcs.namespace,
    etcd: { clientPort, peerPort, pid: undefined },
    members: {},
  };
}
