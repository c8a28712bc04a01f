// The start the backup and restore benchmarks share: pgpilot cluster, pgbench database, pgBackRest stanza, full backups.
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { RunContext, RunRecord } from './harness.js';
import { setupPgbackrest, type PgbackrestSide } from './pgbackrest.js';
import { startPgpilot, type PgpilotSide } from './pgpilot.js';
import type { Pair } from './report.js';
import type { BackupRun } from './runs.js';
import { buildDatabase, quiesce, shownSettings } from './workload.js';

/** What the results record of the setup. */
export interface SetupRecord {
  settings: { pgpilotManifest: string; pgbackrestConfig: string | undefined; postgres: Record<string, string> };
  database: { scale: number; sizeBytes: number; initSeconds: number } | undefined;
  full: Pair<BackupRun>;
}

/**
 * `pgpilot up` (cluster `name`; destroyed by the cleanup), `pgbench -i -s SCALE`, pgBackRest's stanza-create, then
 * pgpilot's full backup and pgBackRest's, each a step (the backups from a quiet start: `quiet`, which the caller may
 * use again). Undefined when the cluster or the database could not be made; `b` is undefined when pgBackRest is
 * skipped or its stanza failed.
 */
export async function setUp<R extends RunRecord & SetupRecord>(
  { r, base, step, timed, atCleanup }: RunContext<R>, opts: { scale: number; skipPgbackrest: boolean }, name?: string,
): Promise<{ p: PgpilotSide; b: PgbackrestSide | undefined; quiet: () => Promise<{ cacheDropped: boolean }> } | undefined> {
  const p = await step('pgpilot up (1 member, repository zstd 1, 2 jobs)', () => startPgpilot(base, name));
  if (p === undefined) return undefined;
  atCleanup(async () => void r.leftovers.push(...await p.destroy()));
  const t = p.target;
  r.settings.pgpilotManifest = await fsp.readFile(p.manifest, 'utf8');
  r.database = await step(`pgbench -i -s ${opts.scale}`, () => buildDatabase(t, opts.scale));
  if (r.database === undefined) return undefined;
  r.settings.postgres = await shownSettings(t);
  let b: PgbackrestSide | undefined;
  if (!opts.skipPgbackrest) {
    b = await step('pgBackRest stanza-create on the member', () => setupPgbackrest(path.join(base, 'pgbackrest'), { dataDir: p.dataDir, runDir: p.runDir, port: t.port }));
    r.settings.pgbackrestConfig = b?.configText;
  }
  /** A step measured from a quiet start: checkpoint done, archive caught up, page cache dropped. */
  const quiet = (): Promise<{ cacheDropped: boolean }> => quiesce(t);
  r.full.pgpilot = await timed('pgpilot full backup', quiet, () => p.backup('full'));
  const br = b;
  if (br !== undefined) r.full.pgbackrest = await timed('pgBackRest full backup', quiet, () => br.backup('full'));
  return { p, b, quiet };
}
