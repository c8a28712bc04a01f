// What one agent loop observes: the DCS view, the local PostgreSQL, peers' fresh positions, and the agent's latches.
import type { ClusterView } from '../model/cluster.js';

/** A standby streaming from this server (pg_stat_replication). */
export interface ReplicationInfo {
  application_name: string;
  client_addr: string | null;
  state: string;
  sync_state: string;
}

/** The local PostgreSQL as queried this loop (undefined when it is not running or does not answer). */
export interface PgSnapshot {
  inRecovery: boolean;
  timeline: number;
  /** Primary: current WAL position; replica: the further of received and replayed. */
  walPosition: bigint;
  receivedPosition: bigint | undefined;
  streaming: boolean;
  systemIdentifier: string;
  /** Primary: its standbys. */
  replication: ReplicationInfo[];
}

export interface LocalState {
  /** Whether the data directory holds an initialized cluster. */
  dataDir: 'missing' | 'initialized';
  /** Pid of a live postmaster of our data directory. */
  postmasterPid: number | undefined;
  pg: PgSnapshot | undefined;
  /** Member name primary_conninfo points at, when we configured one. */
  following: string | undefined;
  /** From pg_control when PostgreSQL is stopped: it last ran (or crashed) as a primary. */
  wasPrimary: boolean | undefined;
}

/** A peer's answer to GET /patroni this loop. */
export interface PeerState {
  reachable: boolean;
  /** The further of its received and replayed WAL positions (replica) or its write position (primary). */
  position: number | undefined;
  role: 'master' | 'replica' | 'uninitialized' | undefined;
  state: string | undefined;
}

export interface SyncPolicy {
  mode: 'off' | 'on' | 'quorum';
  number: number;
  strict: boolean;
}

export interface Latches {
  /** Consecutive failed attempts to start PostgreSQL as the primary. */
  primaryStartFailures: number;
  /** When a failsafe ping from the named leader last reached us (replicas). */
  failsafeFrom: { leader: string; at: number } | undefined;
  /** When our session lease was last renewed (sent time, ms). */
  leaseRenewedAt: number | undefined;
  /** Replica: since when its WAL receiver has not been streaming (undefined while it streams). */
  notStreamingSince: number | undefined;
}

export interface Observation {
  /** Milliseconds since epoch, passed in: decide() never reads the clock. */
  now: number;
  me: { name: string; nofailover: boolean; bootstrap: 'initdb' | 'existing' | 'none' };
  /** undefined when the DCS could not be read this loop. */
  dcs: ClusterView | undefined;
  /** Our session holds the leader key. */
  holdsLeader: boolean;
  local: LocalState;
  maximumLagOnFailover: number;
  ttlMs: number;
  loopWaitMs: number;
  /** How long one DCS request may take (retry_timeout). */
  requestTimeoutMs: number;
  sync: SyncPolicy;
  /** Other members' fresh state, asked when the cluster has no leader (failover) or the DCS is unreachable (failsafe). */
  peers: Record<string, PeerState> | undefined;
  latches: Latches;
}
