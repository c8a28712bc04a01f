// Stops a PostgreSQL left running in a member's data directory after its agent is gone.
import fs from 'node:fs/promises';
import path from 'node:path';
import { terminate } from './processes.js';

/** The postmaster pid recorded in postmaster.pid, if the file exists. */
export async function recordedPostmasterPid(dataDir: string): Promise<number | undefined> {
  try {
    const first = (await fs.readFile(path.join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0] ?? '';
    const pid = Number.parseInt(first, 10);
    return Number.isFinite(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Whether pid is a running postgres (not another process that reused a stale pid). */
async function isPostgres(pid: number): Promise<boolean> {
  try {
    return (await fs.readFile(`/proc/${pid}/comm`, 'utf8')).trim() === 'postgres';
  } catch {
    return false;
  }
}

/** Fast shutdown (SIGINT) of a postmaster still running in `dataDir`, SIGKILL after 20 s. */
export async function stopLeftoverPostgres(dataDir: string): Promise<void> {
  const pid = await recordedPostmasterPid(dataDir);
  if (pid === undefined || !(await isPostgres(pid))) return;
  await terminate(pid, 20_000, 'SIGINT');
}
