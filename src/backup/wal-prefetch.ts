// WAL prefetch for a recovery: segments downloaded ahead of PostgreSQL, in parallel, at most a window ahead of replay.
import fs from 'node:fs/promises';
import path from 'node:path';
import { PgpilotError, errorMessage } from '../base/errors.js';
import { sleep } from '../base/wait.js';
import { type RunAs, chownR } from '../pg/os-user.js';
import type { Repo } from './repo.js';
import { getWal } from './wal-archive.js';

/** Segments kept downloaded ahead of the one PostgreSQL last read (16 MiB each). */
export const PREFETCH_AHEAD = 16;
const EXPECTED = '.expected';
const LAST = '.last-read';
const INCOMING = '.incoming';
const POLL_MS = 50;

export interface WalPrefetch {
  /** The restore_command that reads from the prefetch directory (with `%` already escaped for PostgreSQL). */
  restoreCommand: string;
  /** Settles when every segment is downloaded, or with the first failure. */
  done: Promise<void>;
  /** Stops downloading (when recovery ended early or failed); waits for the downloads under way. */
  stop(): Promise<void>;
}

const shellQuote = (v: string): string => `'${v.replace(/'/g, "'\\''")}'`;

/**
 * The restore_command: a file of the chain is waited for until the prefetch has it, then copied; a file outside the
 * chain is not in the archive (exit 1: PostgreSQL probes for timeline histories that do not exist). Each file handed
 * over records its name, so the prefetch knows how far replay got and removes what it has read.
 */
export function prefetchRestoreCommand(dir: string): string {
  const d = shellQuote(dir).replace(/%/g, '%%');
  // The loop ends when its PostgreSQL is gone, or the directory (and its list) was removed.
  // A hard link instead of a copy: PostgreSQL only reads the file, and unlinks or renames it, never rewrites it.
  return `f=%f; while [ ! -f ${d}/"$f" ]; do grep -qxF "$f" ${d}/${EXPECTED} || exit 1; kill -0 $PPID 2>/dev/null || exit 1; sleep 0.05; done; { ln -f ${d}/"$f" "%p" 2>/dev/null || cp ${d}/"$f" "%p"; } && echo "$f" > ${d}/${LAST}`;
}

/**
 * Starts the prefetch: timeline histories first (before this returns: recovery asks for them at once), then the
 * segments in order, `jobs` at a time, never more than PREFETCH_AHEAD past the one PostgreSQL last read. Segments
 * replay has passed are deleted. The directory is owned by `owner` (PostgreSQL writes its progress there).
 */
export async function startWalPrefetch(repo: Repo, chain: { histories: readonly string[]; segments: readonly string[] }, dir: string, jobs: number, owner?: RunAs): Promise<WalPrefetch> {
  await fs.rm(dir, { recursive: true, force: true });
  await fs.mkdir(path.join(dir, INCOMING), { recursive: true, mode: 0o700 });
  await fs.writeFile(path.join(dir, EXPECTED), [...chain.histories, ...chain.segments].map((n) => `${n}\n`).join(''), { mode: 0o644 });
  for (const h of chain.histories) await fetchOne(repo, h, dir, owner);
  if (owner !== undefined) await chownR(dir, owner);
  const segments = chain.segments;
  const index = new Map(segments.map((s, i) => [s, i]));
  let stopped = false;
  let next = 0;
  let removedUpTo = 0;
  /** Index of the segment PostgreSQL read last (-1 before the first). */
  const lastRead = async (): Promise<number> => {
    const name = (await fs.readFile(path.join(dir, LAST), 'utf8').catch(() => '')).trim();
    return index.get(name) ?? -1;
  };
  const worker = async (): Promise<void> => {
    while (!stopped && next < segments.length) {
      const read = await lastRead();
      // Replay has moved past these: they are not read again.
      while (removedUpTo < read) await fs.rm(path.join(dir, segments[removedUpTo++] as string), { force: true });
      if (next > read + PREFETCH_AHEAD) {
        await sleep(POLL_MS);
        continue;
      }
      const name = segments[next++];
      if (name !== undefined) await fetchOne(repo, name, dir, owner);
    }
  };
  const done = Promise.all(Array.from({ length: Math.max(1, jobs) }, worker)).then(() => undefined);
  done.catch(() => (stopped = true));
  return {
    restoreCommand: prefetchRestoreCommand(dir),
    done,
    async stop() {
      stopped = true;
      await done.catch(() => undefined);
    },
  };
}

/** Downloads into a side directory, then renames into place: the restore_command sees whole, readable files only. */
async function fetchOne(repo: Repo, name: string, dir: string, owner: RunAs | undefined): Promise<void> {
  const incoming = path.join(dir, INCOMING, name);
  let found: boolean;
  try {
    found = await getWal(repo, name, incoming, { sync: false });
  } catch (e) {
    throw new PgpilotError('Archive', `cannot fetch WAL file ${name} from repository ${repo.name}: ${errorMessage(e)}`, { hint: 'check the repository (pgpilot verify) and the free space beside the data directory', cause: e });
  }
  if (!found) throw new PgpilotError('Archive', `WAL file ${name} vanished from repository ${repo.name} during the restore`, { hint: 'an expire ran meanwhile? restore again: the plan is checked anew' });
  if (owner !== undefined) await fs.chown(incoming, owner.uid, owner.gid);
  await fs.rename(incoming, path.join(dir, name));
}
