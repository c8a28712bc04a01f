// Promoting a standby: pg_ctl promote, which waits until recovery has ended and the new timeline is in use.
import path from 'node:path';
import type { Logger } from '../base/log.js';
import type { RunAs } from './os-user.js';
import { runProgram } from './program.js';

export interface PromoteOptions {
  binDir: string;
  dataDir: string;
  runAs: RunAs;
  timeoutMs: number;
  log: Logger;
}

/** Promotes the standby on `dataDir`; throws a Program error if it is not a standby or does not finish in time. */
export async function promote(options: PromoteOptions): Promise<void> {
  const seconds = Math.max(1, Math.ceil(options.timeoutMs / 1000));
  options.log.info('promoting PostgreSQL', { dataDir: options.dataDir });
  await runProgram(path.join(options.binDir, 'pg_ctl'), ['promote', '-D', options.dataDir, '-w', '-t', String(seconds)], {
    runAs: options.runAs,
    // pg_ctl enforces -t itself; ours only guards against it hanging.
    timeoutMs: options.timeoutMs + 5_000,
  });
}
