// Composition root of a member daemon (`pgpilot agent --config FILE`): wires etcd, PostgreSQL, the HA loop and the API.
import { archiveCommand } from '../backup/archive-command.js';
import { errorMessage } from '../base/errors.js';
import type { Logger } from '../base/log.js';
import { startApiServer } from '../api/server.js';
import { loadAgentConfig } from '../config/agent-config.js';
import { ClusterStore } from '../dcs/cluster-store.js';
import { etcdKv } from '../dcs/etcd/etcd-kv.js';
import { HaLoop } from '../ha/loop.js';
import { postgresMember } from '../ha/postgres-member.js';
import { readSecret, resolveRunAs } from '../pg/os-user.js';
import { startArchiverProcess } from './archiver-process.js';
import { replicaFromBackup } from './replica-from-backup.js';
import { poolerRouting } from './routing.js';
import { agentBackend } from './backend.js';
import { BackupStats } from './backup-stats.js';
import { JobManager, pgpilotJobCommand } from './jobs.js';
import { Scheduler, scheduledJobs } from './scheduler.js';

export async function runAgent(configFile: string, rootLogger: Logger): Promise<void> {
  const config = await loadAgentConfig(configFile);
  const logger = rootLogger.child({ cluster: config.scope, member: config.name });
  // retry_timeout bounds one etcd request: a loop must finish well within the lease ttl even when etcd hangs.
  const kv = etcdKv({ endpoints: config.dcs.endpoints, logger, requestTimeoutMs: config.ha.retryTimeout * 1000 });
  const store = new ClusterStore(kv, config.namespace, config.scope);
  // With repositories, PostgreSQL archives: its archive_command waits for the WAL archiver child, which pushes.
  // A new replica restores from the first repository when ha.replicaMethods says so.
  const repo = config.backup.repos[0];
  const archiver = repo === undefined ? undefined : startArchiverProcess(configFile, logger);
  let wake = (): void => undefined;
  const local = await postgresMember(config, logger, {
    onPostmasterExit: (why) => {
      logger.warn('postgres exited', { why });
      wake();
    },
  }, repo === undefined ? {} : { archiveCommand: archiveCommand(config.backup.spoolDir), cloneFromBackup: replicaFromBackup(repo, config, logger) });
  const token = await readSecret(config.api.tokenFile);
  const routing = poolerRouting(config, await readSecret(config.secrets.superuserPasswordFile), await resolveRunAs(config.postgres.runAs), logger);
  const loop = new HaLoop({ config, store, local, routing, token, logger });
  wake = () => loop.wake();
  const stats = new BackupStats(config.backup);
  const jobs = new JobManager({ command: pgpilotJobCommand(configFile), logger, onFinished: (job) => stats.record(job) });
  const scheduler = new Scheduler({ jobs: scheduledJobs(config.backup), runner: jobs, isLeader: () => loop.status().isLeader, logger });
  const api = await startApiServer({ host: config.api.listen, port: config.api.port, backend: agentBackend(loop, store, local, config.name, { jobs, stats }), token, logger });
  logger.info('agent started', { api: api.url, pid: process.pid });

  const running = loop.run();
  scheduler.start();
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  logger.info('stopping: shutting PostgreSQL down, then releasing the leader lock');
  loop.stop();
  await running;
  scheduler.stop();
  // Before PostgreSQL: a running backup is stopped rather than holding up the shutdown.
  await shutdown(() => jobs.stop(), 'stop the backup jobs', logger);
  await shutdown(async () => local.stop('fast'), 'stop postgres', logger);
  await shutdown(async () => void (await store.releaseLeader(config.name)), 'release leader lock', logger);
  await shutdown(() => store.closeSession(), 'close DCS session', logger);
  // After PostgreSQL, whose shutdown archives its last segments (archive_command waits for the archiver to push them);
  // after the leader lock too, so finishing pushes never delays a failover.
  await shutdown(async () => archiver?.stop(), 'stop the WAL archiver', logger);
  await shutdown(() => api.close(), 'close API', logger);
  await shutdown(() => local.close(), 'close connections', logger);
  await kv.close();
  logger.info('agent stopped');
}

async function shutdown(step: () => Promise<void>, what: string, logger: Logger): Promise<void> {
  try {
    await step();
  } catch (e) {
    logger.warn(`could not ${what}`, { error: errorMessage(e) });
  }
}
