// The agent's side of the REST API: status from the loop, config changes through the DCS, restarts through the loop,
// backup jobs through the job manager.
import { PgpilotError } from '../base/errors.js';
import type { MemberBackend } from '../api/backend.js';
import type { BackupListing } from '../api/jobs.js';
import type { ClusterStore } from '../dcs/cluster-store.js';
import type { HaLoop } from '../ha/loop.js';
import type { LocalPostgres } from '../ha/local.js';
import type { DynamicConfig } from '../model/cluster.js';
import type { BackupStats } from './backup-stats.js';
import type { JobManager } from './jobs.js';
import { cancelScheduledSwitchover, requestSwitchover } from './switchover.js';

/** How long GET /backups and GET /dumps wait for their listing job (a large S3 repository takes a while). */
const listingTimeoutMs = 60_000;

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> =
    typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [key, value] of Object.entries(patch as Record<string, unknown>)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}

function asDynamicConfig(value: unknown): DynamicConfig {
  const c = value as Partial<DynamicConfig>;
  const ok = typeof c === 'object' && c !== null && typeof c.ttl === 'number' && typeof c.loop_wait === 'number'
    && typeof c.postgresql === 'object' && c.postgresql !== null && typeof c.postgresql.parameters === 'object';
  if (!ok) {
    throw new PgpilotError('Config', 'the resulting config lacks ttl, loop_wait or postgresql.parameters', {
      hint: 'keep ttl, loop_wait and postgresql.parameters in the dynamic config',
    });
  }
  return c as DynamicConfig;
}

export interface BackupServices {
  jobs: JobManager;
  stats: BackupStats;
}

export function agentBackend(loop: HaLoop, store: ClusterStore, local: LocalPostgres, me: string, backup: BackupServices): MemberBackend {
  /** Compare-and-set on the config key, retried when another writer got in between. */
  const update = async (change: (current: DynamicConfig | undefined) => DynamicConfig): Promise<DynamicConfig> => {
    for (let attempt = 0; attempt < 5; attempt++) {
      const view = await store.load();
      const next = change(view.config);
      if (await store.setConfig(next, view.configRevision)) {
        loop.wake();
        return next;
      }
    }
    throw new PgpilotError('DcsConflict', 'the config key kept changing under us: gave up after 5 attempts', { hint: 'try again' });
  };
  return {
    status: () => loop.status(),
    cluster: () => store.load(),
    patchConfig: (patch) => update((current) => asDynamicConfig(mergePatch(current ?? {}, patch))),
    putConfig: (config) => update(() => asDynamicConfig(config)),
    restart: () =>
      loop.request(async () => {
        await local.stop('fast');
        await local.start();
      }),
    reload: () => loop.request(() => local.reload()),
    switchover: (request) => requestSwitchover(store, request, me, loop),
    cancelSwitchover: () => cancelScheduledSwitchover(store),
    failsafe: (leader) => {
      loop.failsafeFrom(leader);
      return loop.status();
    },
    leader: () => loop.currentView?.leader?.name,
    startJob: (kind, options) => backup.jobs.start(kind, options, 'api'),
    jobs: () => backup.jobs.list(),
    job: (id) => backup.jobs.get(id),
    backups: async () => (await backup.jobs.runAndWait('list', {}, listingTimeoutMs)) as BackupListing,
    dumps: () => backup.jobs.runAndWait('dumps', {}, listingTimeoutMs),
    archiveStatus: () => backup.stats.archiveStatus(),
    backupMetrics: () => backup.stats.metrics(),
  };
}
