// What the REST API needs from the member agent; the agent implements it, the API never imports the agent.
import type { ClusterView, DynamicConfig, MemberStatus } from '../model/cluster.js';

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
}

export interface SwitchoverRequest {
  leader: string | undefined;
  candidate: string | undefined;
  scheduledAt: string | undefined;
}
