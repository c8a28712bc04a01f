// Starts PostgreSQL on a restored data directory (as the postgres user when root) for e2e checks, and stops it; or
// reads from it once and removes it.
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import { promisify } from 'node:util';
import { freePort } from '../../src/runner/ports.js';

const run = promisify(execFile);
const binDir = '/usr/lib/postgresql/15/bin';

/** `pg_ctl` as the data directory's owner: runuser when we are root. */
function pgCtl(args: string[]): Promise<unknown> {
  const cmd = process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', `${binDir}/pg_ctl`, ...args]] as const : [`${binDir}/pg_ctl`, args] as const;
  return run(cmd[0], [...cmd[1]], { timeout: 120_000 });
}

export interface RestoredServer {
  port: number;
  stop(): Promise<void>;
}

/** Starts the restored directory on a free port (socket in the directory itself) and waits until it accepts connections. */
export async function startRestored(dir: string): Promise<RestoredServer> {
  const port = await freePort();
  await pgCtl(['-D', dir, '-w', '-t', '90', '-l', `${dir}/restored.log`, '-o', `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${dir}`, 'start']);
  return { port, stop: async () => void (await pgCtl(['-D', dir, '-w', '-m', 'fast', 'stop']).catch(() => undefined)) };
}

/** Starts the restored directory, hands its port to `read`, then stops it and removes the directory. */
export async function readRestored<T>(dir: string, read: (port: number) => Promise<T>): Promise<T> {
  const server = await startRestored(dir);
  try {
    return await read(server.port);
  } finally {
    await server.stop();
    await fs.rm(dir, { recursive: true, force: true });
  }
}
