// What a measured backup or restore run records, the same for both tools, and the timed restore they share.
import { dirBytes, peakOf, runOk, watching, type Io, type ProcessMatch, type Watched } from './sample.js';

export interface BackupRun {
  label: string;
  /** Wall time of the command that took the backup, from start to exit, ms. */
  wallMs: number;
  /** Apparent bytes of the backup's directory in the repository. */
  dirBytes: number;
  /** The tool's own figures (pgpilot: the `backup --json` summary; pgBackRest: the backup's `info --output=json` entry). */
  reported: Record<string, unknown>;
  /** I/O of the process(es) that did the work. */
  io: Io | undefined;
  peakRssBytes: number;
  watched: Watched;
  /** pgpilot only: the agent's /proc/PID/io over the backup, which includes the job's once the agent reaped it. */
  agentIo?: Io;
}

export interface RestoreRun {
  wallMs: number;
  /** Wall time of `sync` right after the command: flushing what it left in the page cache. */
  syncMs: number;
  restoredBytes: number;
  io: Io | undefined;
  peakRssBytes: number;
  output: string;
}

/**
 * Restores run with `sync` timed after them, so that both tools' restores end with the files on disk (`sync` false:
 * none, syncMs 0, for a restore that PostgreSQL starts on right away).
 */
export async function timedRestore(argv: string[], env: NodeJS.ProcessEnv, match: ProcessMatch, dir: string, sync = true): Promise<RestoreRun> {
  const { result: r, watched } = await watching(match, () => runOk(argv, env));
  const s = sync ? await runOk(['sync']) : { ms: 0 };
  return { wallMs: r.ms, syncMs: s.ms, restoredBytes: await dirBytes(dir), io: r.io, peakRssBytes: peakOf(watched), output: (r.stdout + r.stderr).trim() };
}

