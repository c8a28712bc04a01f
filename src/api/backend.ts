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
}
