// Rewinding a former primary onto the new primary's timeline with pg_rewind, so it can follow without a full clone.
import path from 'node:path';
import { PgpilotError, errorMessage } from '../base/errors.js';
import type { Logger } from '../base/log.js';
import { conninfo } from './conf.js';
import { readControlData } from './controldata.js';
import type { RunAs } from './os-user.js';
import { runProgram, tailLines } from './program.js';

/** The running primary to copy from. */
export interface RewindSource {
  host: string;
  port: number;
  /** A superuser (pg_rewind reads files through pg_read_binary_file); we use `postgres`. */
  user: string;
  /** pgpass file holding that user's password, readable by the run-as user. */
  passFile: string;
}

export interface RewindOptions {
  binDir: string;
  dataDir: string;
  runAs: RunAs;
  source: RewindSource;
  log: Logger;
  /** pg_rewind is killed after this long; the data directory must then be recloned. Default: no limit. */
  timeoutMs?: number;
}

export interface RewindResult {
  /** False when pg_rewind found nothing to do ("no rewind required"): the data directory is untouched. */
  rewound: boolean;
}

const CONNECT_TIMEOUT_S = 10;

/**
 * Runs pg_rewind on the stopped `dataDir` against the running `source`. The password comes from the pgpass file
 * (PGPASSFILE), never from the arguments.
 *
 * - A crashed former primary ('in production') works: pg_rewind first runs single-user crash recovery on it (we do
 *   not pass --no-ensure-shutdown). A data directory 'in archive recovery' is refused with a State error: that is a
 *   crashed standby or an earlier rewind whose result was never started, and single-user crash recovery would end
 *   its recovery without a new timeline, possibly writing WAL the source's timeline does not have. Start it as a
 *   standby (and stop it cleanly) first, or reclone it.
 * - The source must have completed a checkpoint since its promotion: pg_rewind takes the source's timeline from its
 *   pg_control, and before that checkpoint it still names the old timeline, so pg_rewind says "source and target
 *   cluster are on the same timeline" and "no rewind required" although the target diverged. `pg_ctl promote -w`
 *   does not wait for that checkpoint; run CHECKPOINT on the new primary (or wait until
 *   `pg_control_checkpoint().timeline_id` shows its new timeline) before rewinding against it.
 * - The target's WAL back to the last checkpoint before the fork must still be in its pg_wal. A checkpoint after the
 *   fork (the shutdown checkpoint of a fast stop) removes older segments unless wal_keep_size (or a slot) keeps
 *   them; pg_rewind then fails with "could not find previous WAL record at ...".
 * - pg_rewind copies the source's configuration files into `dataDir` (postgresql.conf, postgresql.auto.conf,
 *   pg_hba.conf, pgpilot.conf: the source's port, no primary_conninfo). After a rewind the caller must rewrite
 *   pgpilot's configuration and standby.signal before starting, and start it as a standby: the rewound directory is
 *   left 'in archive recovery' with a backup_label, and must replay the source's WAL before it is consistent.
 *
 * Failure is a Postgres error with pg_rewind's last output lines; the data directory may then be half rewound and
 * must not be started as is.
 */
export async function rewind(options: RewindOptions): Promise<RewindResult> {
  const { binDir, dataDir, runAs, source, log } = options;
  const from = `${source.host}:${source.port}`;
  const before = await readControlData({ binDir, dataDir, runAs });
  if (before.state === 'in archive recovery') {
    throw new PgpilotError('State', `will not rewind ${dataDir}: it stopped in archive recovery (a crashed standby, `
      + 'or a rewind that was never started)', {
      hint: 'start it as a standby of the primary and stop it cleanly before rewinding, or reclone it',
    });
  }
  const sourceServer = conninfo({ host: source.host, port: source.port, user: source.user, dbname: 'postgres',
    connect_timeout: CONNECT_TIMEOUT_S });
  log.info('rewinding the data directory', { dataDir, from, state: before.state, timeline: before.timeline });
  let output: string;
  try {
    const result = await runProgram(path.join(binDir, 'pg_rewind'),
      [`--target-pgdata=${dataDir}`, `--source-server=${sourceServer}`, '--progress'], {
        runAs,
        env: { PGPASSFILE: source.passFile, LC_ALL: 'C' },
        ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
      });
    output = `${result.stderr}\n${result.stdout}`;
  } catch (e) {
    throw new PgpilotError('Postgres', `could not rewind ${dataDir} from ${from}: ${errorMessage(e)}`, {
      hint: 'the data directory may be half rewound and must not be started as is: the member will be recloned',
      cause: e,
    });
  }
  const result = rewindOutcome(output);
  log.info(result.rewound ? 'pg_rewind finished' : 'pg_rewind found nothing to do', {
    dataDir, from, output: tailLines(output.replace(/^.*\bkB \(\d+%\) copied.*$/gm, ''), 50),
  });
  return result;
}

/** What pg_rewind's output (exit code 0) says: "no rewind required", or a rewind done. */
export function rewindOutcome(output: string): RewindResult {
  return { rewound: !/^pg_rewind: no rewind required$/m.test(output) };
}
