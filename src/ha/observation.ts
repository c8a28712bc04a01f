// What one agent loop observes: the DCS view, the local PostgreSQL, and the agent's own settings.
import type { ClusterView } from '../model/cluster.js';

/** The local PostgreSQL as queried this loop (undefined when it is not running or does not answer). */
export interface PgSnapshot {
  inRecovery: boolean;
  timeline: number;
  /** Primary: current WAL position; replica: last replayed. */
  walPosition: bigint;
  receivedPosition: bigint | undefined;
  streaming: boolean;
  systemIdentifier: string;
}

export interface LocalState {
  /** Whether the data directory holds an initialized cluster. */
  dataDir: 'missing' | 'initialized';
  /** Pid of a live postmaster of our data directory. */
  postmasterPid: number | undefined;
  pg: PgSnapshot | undefined;
  /** Member name primary_conninfo points at, when we configured one. */
  following: string | undefined;
}

export interface Observation {
  /** Milliseconds since epoch, passed in: decide() never reads the clock. */
  now: number;
  me: { name: string; nofailover: boolean };
  /** undefined when the DCS could not be read this loop. */
  dcs: ClusterView | undefined;
  /** Our session holds the leader key. */
  holdsLeader: boolean;
  local: LocalState;
  maximumLagOnFailover: number;
}
