// What the HA loop needs from the member's local PostgreSQL; implemented over src/pg by postgres-member.ts.
import type { UserSpec, DatabaseSpec, ParameterValue } from '../config/types.js';
import type { PgSnapshot } from './observation.js';

export interface Upstream {
  name: string;
  host: string;
  port: number;
}

/** Extra facts the loop publishes but does not decide on. */
export interface PgDetails {
  replayedPosition: bigint | undefined;
  serverVersion: number;
  postmasterStartTime: string;
  pendingRestart: boolean;
}

export interface LocalPostgres {
  dataDirState(): Promise<'missing' | 'initialized'>;
  postmasterPid(): Promise<number | undefined>;
  /** Queries the running PostgreSQL; undefined when it does not answer. */
  snapshot(): Promise<(PgSnapshot & PgDetails) | undefined>;
  initdb(): Promise<void>;
  /** Writes pgpilot.conf for the role: primary (upstream null), or replica of upstream (undefined: no upstream yet). */
  configure(upstream: Upstream | null | undefined, parameters: Record<string, ParameterValue>): Promise<void>;
  /** The upstream the configuration last written points at (null: primary). */
  readonly upstream: Upstream | null | undefined;
  /** The parameters the configuration last written holds (undefined before the first configure). */
  readonly parameters: Record<string, ParameterValue> | undefined;
  start(): Promise<number>;
  stop(mode: 'fast' | 'immediate'): Promise<void>;
  /**
   * Creates the data directory of a replica of `from` with the configured replica methods, in order (a method that
   * fails is cleaned up and the next one tried). `systemId`: the cluster's, from the DCS (backups of it only).
   */
  clone(from: Upstream, systemId: string | undefined): Promise<void>;
  promote(): Promise<void>;
  createRolesAndDatabases(users: Array<UserSpec & { passwordFile: string }>, databases: DatabaseSpec[]): Promise<void>;
  /** Creates the physical slots named and drops other physical slots that no replica is streaming through. */
  syncSlots(wanted: string[]): Promise<void>;
  reload(): Promise<void>;
  removeDataDir(): Promise<void>;
  /** From pg_control of a stopped PostgreSQL: where its last checkpoint record starts. */
  shutdownCheckpoint(): Promise<bigint | undefined>;
  /** From pg_control of a stopped PostgreSQL: it last ran, or crashed, as a primary. */
  wasPrimary(): Promise<boolean | undefined>;
  /** How far another member's PostgreSQL has received WAL (pg_last_wal_receive_lsn), asked as the superuser. */
  receivedPositionOf(member: Upstream): Promise<bigint | undefined>;
  /** The SCRAM verifiers PostgreSQL stores for these roles (pg_authid.rolpassword). */
  roleVerifiers(names: string[]): Promise<Array<{ user: string; verifier: string }>>;
  /** pg_rewind from the upstream (PostgreSQL stopped); false when no rewind was needed. */
  rewind(from: Upstream): Promise<boolean>;
  close(): Promise<void>;
}

/** Client routing (the poolers), injected by the agent when the cluster has one. */
export interface ClientRouting {
  /** Points the read-write endpoint at the primary and the read-only one at the replicas, and lets writes through. */
  route(primary: Upstream, replicas: Upstream[]): Promise<void>;
  /** Holds new transactions on the read-write endpoint (they wait, they do not fail) until route() is called again. */
  pauseWrites(): Promise<void>;
  /** Lets these roles log in through the poolers (SCRAM verifiers as PostgreSQL stores them). */
  authorize(users: Array<{ user: string; verifier: string }>): Promise<void>;
}
