// `pgpilot down`: stop every process of a local cluster, check its ports are free, and with --destroy delete its files.
import fs from 'node:fs/promises';
import { PgpilotError } from '../base/errors.js';
import { silentLogger } from '../base/log.js';
import { waitFor } from '../base/wait.js';
import { clusterPaths } from './layout.js';
import { stopPostgres } from '../pg/postmaster.js';
import { portInUse } from './ports.js';
import { terminate } from './processes.js';
import { readState, writeState, type RunnerState } from './state.js';

export async function down(name: string, home: string, options: { destroy: boolean }): Promise<{ forced: string[] }> {
  const paths = clusterPaths(name, home);
  const state = await readState(paths.state);
  if (state === undefined) {
    throw new PgpilotError('NotFound', `no cluster "${name}" under ${home}`, { hint: 'see the clusters there with `ls $PGPILOT_HOME`' });
  }
  const forced: string[] = [];
  // The supervisor stops agents (each stops its PostgreSQL) and etcd in order; wait long enough for that.
  if (await terminate(state.supervisorPid, 90_000)) forced.push(`supervisor ${state.supervisorPid}`);
  // Whatever outlived a supervisor that was killed: agents, postmasters, etcd.
  for (const [member, m] of Object.entries(state.members)) {
    if (await terminate(m.agentPid, 30_000)) forced.push(`agent of ${member}`);
    await stopPostgres(paths.member(member).dataDir, 'fast', 20_000, silentLogger);
  }
  for (const p of state.poolers ?? []) if (await terminate(p.pid, 10_000, 'SIGINT')) forced.push(`pooler ${p.name}`);
  if (await terminate(state.etcd?.pid, 10_000)) forced.push('etcd');
  await waitPortsFree(state);
  if (options.destroy) {
    await fs.rm(paths.dir, { recursive: true, force: true });
  } else {
    await writeState(paths.state, clearedPids(state));
  }
  return { forced };
}

function clearedPids(state: RunnerState): RunnerState {
  const members = Object.fromEntries(Object.entries(state.members).map(([k, m]) => [k, { ...m, agentPid: undefined }]));
  const poolers = state.poolers?.map((p) => ({ ...p, pid: undefined }));
  return { ...state, supervisorPid: undefined, etcd: state.etcd === undefined ? undefined : { ...state.etcd, pid: undefined }, members, ...(poolers === undefined ? {} : { poolers }) };
}

async function waitPortsFree(state: RunnerState): Promise<void> {
  const ports = Object.values(state.members).flatMap((m) => [m.pgPort, m.apiPort]);
  if (state.etcd !== undefined) ports.push(state.etcd.clientPort, state.etcd.peerPort);
  for (const p of state.poolers ?? []) ports.push(p.port);
  await waitFor(
    `ports ${ports.join(', ')} to be free`,
    async () => {
      for (const p of ports) if (await portInUse(p)) return false;
      return true;
    },
    { timeoutMs: 20_000, hint: 'something else may listen there: check with `ss -ltnp`' },
  );
}
