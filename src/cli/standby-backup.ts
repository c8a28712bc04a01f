// spec.backup.fromStandby: the leader's backup job hands the copy to a streaming replica's agent and waits for it.
import { PgpilotError, errorMessage } from '../base/errors.js';
import type { Logger } from '../base/log.js';
import type { JobOptions } from '../api/jobs.js';
import { apiClient } from '../client/api-client.js';
import { runJobToEnd } from '../client/job-wait.js';
import type { AgentConfig } from '../config/types.js';
import type { ClusterMember, ClusterView } from '../model/cluster.js';
import { readSecret } from '../pg/os-user.js';
import type { ConnectOptions } from '../pg/query.js';
import { leaderSuperuser, loadView } from '../runner/cluster-access.js';

const clusterView = (config: AgentConfig): Promise<ClusterView> =>
  loadView({ name: config.scope, endpoints: config.dcs.endpoints, namespace: config.namespace, home: '' });

const replayed = (m: ClusterMember): number => m.data.replayed_location ?? m.data.xlog_location ?? 0;

/** The replica to read a backup from: running and streaming, the least behind; undefined when there is none. */
export function chooseStandby(view: ClusterView, self: string): ClusterMember | undefined {
  return view.members
    .filter((m) => m.name !== self && m.name !== view.leader?.name && m.data.role === 'replica' && m.data.state === 'running' && m.data.pgpilot?.streaming === true)
    .sort((a, b) => replayed(b) - replayed(a))[0];
}

/**
 * On the leader: runs the backup on a replica and returns its result. Undefined, with a warning, when no replica can
 * take it (none streams, or the chosen one does not accept the job): the primary is read then, since a missing backup
 * is worse than a loaded primary. A backup that fails on the replica fails here.
 */
export async function backupOnStandby(config: AgentConfig, options: JobOptions, log: Logger): Promise<unknown> {
  const replica = chooseStandby(await clusterView(config), config.name);
  if (replica === undefined) {
    log.warn('spec.backup.fromStandby is set but no replica streams: the backup reads the primary');
    return undefined;
  }
  const api = apiClient({ baseUrl: new URL(replica.data.api_url).origin, token: await readSecret(config.api.tokenFile) });
  let accepted = false;
  try {
    return await runJobToEnd(api, 'backup', { ...options, standby: true }, {
      intervalMs: 200,
      onStarted: (job) => {
        accepted = true;
        log.info('backup handed to a replica', { replica: replica.name, job: job.id });
      },
    });
  } catch (e) {
    if (accepted) throw e;
    log.warn('the replica did not take the backup: the backup reads the primary', { replica: replica.name, error: errorMessage(e) });
    return undefined;
  }
}

/** On the replica: the current leader's PostgreSQL, as the superuser (the password is the cluster's). */
export async function primaryConn(config: AgentConfig, password: string): Promise<ConnectOptions> {
  const primary = leaderSuperuser(await clusterView(config));
  if (primary === undefined) {
    throw new PgpilotError('State', `cluster ${config.scope} has no leader: a backup from a replica needs the primary to checkpoint and switch WAL`, {
      hint: 'try again once a leader is elected (pgpilot status)',
    });
  }
  return { ...primary, password };
}
