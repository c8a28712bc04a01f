// The internal `pgpilot wal-archiver --config FILE` command: the agent's child that pushes WAL to every repository.
import fs from 'node:fs/promises';
import path from 'node:path';
import { WalArchiver } from '../backup/archiver.js';
import { summaryDir } from '../backup/wal-summary.js';
import { openRepo } from '../backup/repo.js';
import { PgpilotError } from '../base/errors.js';
import type { Logger } from '../base/log.js';
import { loadAgentConfig } from '../config/agent-config.js';
import type { AgentConfig } from '../config/types.js';
import { readControlData } from '../pg/controldata.js';
import { resolveRunAs } from '../pg/os-user.js';
import { stringFlag, type ParsedArgs } from './args.js';
import type { Io } from './io.js';

export async function cmdWalArchiver(args: ParsedArgs, _io: Io, logger: Logger): Promise<number> {
  const file = stringFlag(args, 'config');
  if (file === undefined) throw new PgpilotError('Usage', 'pgpilot wal-archiver: --config FILE is required');
  const config = await loadAgentConfig(file);
  if (config.backup.repos.length === 0) {
    throw new PgpilotError('Config', `${file} configures no backup repository: there is nothing to archive to`, {
      hint: 'add backup.repos to the agent config (spec.backup.repos in the manifest)',
    });
  }
  const log = logger.child({ cluster: config.scope, member: config.name, component: 'wal-archiver' });
  const identity = clusterIdentity(config);
  const archiver = new WalArchiver({
    walDir: path.join(config.postgres.dataDir, 'pg_wal'),
    spoolDir: config.backup.spoolDir,
    summaryDir: summaryDir(config.backup.spoolDir),
    jobs: config.backup.jobs,
    // Opened when the first file is ready: the data directory (and so the system identifier) exists by then.
    targets: config.backup.repos.map((spec) => ({ name: spec.name, open: async () => openRepo(spec, { create: await identity() }) })),
    logger: log,
  });
  await archiver.start();
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  await archiver.stop();
  return 0;
}

/** The cluster's system identifier (pg_controldata) and major version (PG_VERSION), read once on first use. */
function clusterIdentity(config: AgentConfig): () => Promise<{ systemId: string; pgVersion: number }> {
  let read: Promise<{ systemId: string; pgVersion: number }> | undefined;
  return () => {
    if (read === undefined) {
      read = (async () => {
        const { binDir, dataDir } = config.postgres;
        const control = await readControlData({ binDir, dataDir, runAs: await resolveRunAs(config.postgres.runAs) });
        const pgVersion = Number((await fs.readFile(path.join(dataDir, 'PG_VERSION'), 'utf8')).trim());
        return { systemId: control.systemIdentifier, pgVersion };
      })();
      read.catch(() => (read = undefined));
    }
    return read;
  };
}
