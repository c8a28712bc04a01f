// The runner's record of a local cluster's processes and ports (state.json), written atomically.
import fs from 'node:fs/promises';

export interface RunnerState {
  name: string;
  supervisorPid: number | undefined;
  /** Endpoints of the DCS the cluster uses (private etcd or the manifest's). */
  dcsEndpoints: string[];
  namespace: string;
  etcd: { clientPort: number; peerPort: number; pid: number | undefined } | undefined;
  members: Record<string, { pgPort: number; apiPort: number; agentPid: number | undefined }>;
  /** The read-write and read-only pgbouncer, when spec.pooler is enabled. */
  poolers?: Array<{ name: string; port: number; pid: number | undefined }> | undefined;
}

export async function readState(file: string): Promise<RunnerState | undefined> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as RunnerState;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

export async function writeState(file: string, state: RunnerState): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(tmp, JSON.stringify(state, null, 2) + '\n', { mode: 0o600 });
  await fs.rename(tmp, file);
}

/** Whether a process with this pid exists. */
export function processAlive(pid: number | undefined): boolean {
  if (pid === undefined || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
