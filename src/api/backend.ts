// What the REST API needs from the member agent; the agent implements it, the API never imports the agent.
import type { ClusterView, DynamicConfig, MemberStatus } from '../model/cluster.js';
import type { ArchiveStatus, BackupListing, BackupMetrics, JobInfo, JobKind, JobOptions } from './jobs.js';

export interface MemberBackend {
  /** This member's current status (cheap: the agent keeps it from its last loop). */
  status(): MemberStatus;
  /** A fresh read of the cluster from the DCS. */
  cluster(): Promise<ClusterView>;
  /** Merge-patches the dynamic config in the DCS (null removes a key), returns the result. */
  patchConfig(patch: Record<string, unknown>): Promise<DynamicConfig>;
  /** Replaces the dynamic config in the DCS. */
  putConfig(config: Record<string, unknown>): Promise<DynamicConfig>;
  /** Restarts this member's PostgreSQL. */
  restart(): Promise<void>;
  /** Asks the agent to re-read the DCS config and reload PostgreSQL. */
  reload(): Promise<void>;
  /**
   * A switchover (leader named) or failover (no leader named) request, answered as Patroni does: 200 when done,
   * 202 when scheduled, 412 when a precondition fails, 503 when it did not happen.
   */
  switchover(request: SwitchoverRequest): Promise<{ status: 200 | 202 | 412 | 503; message: string }>;
  /** Cancels a scheduled switchover. */
  cancelSwitchover(): Promise<{ status: 200 | 404; message: string }>;
  /** The leader says it is alive while the DCS is unreachable (Patroni's failsafe); returns our status. */
  failsafe(leader: string): MemberStatus;
  /** The leader's name as this member last saw it (undefined: none). */
  leader(): string | undefined;
  /** Starts a job on this member; a State error (409) when a mutating kind finds one already running. */
  startJob(kind: JobKind, options: JobOptions): JobInfo;
  /** The recent jobs of this member, newest first. */
  jobs(): JobInfo[];
  job(id: string): JobInfo | undefined;
  /** Runs a `list` job and waits for its result (a Timeout error, 504, when it takes too long). */
  backups(): Promise<BackupListing>;
  /** Runs a `dumps` job (the logical dumps) and waits for its result. */
  dumps(): Promise<unknown>;
  /** The WAL archiver's status file; undefined when there is none (yet). */
  archiveStatus(): Promise<ArchiveStatus | undefined>;
  /** Backup results and the archive status, for /metrics. */
  backupMetrics(): Promise<BackupMetrics>;
}

export interface SwitchoverRequest {
  leader: string | undefined;
  candidate: string | undefined;
  scheduledAt: string | undefined;
}
