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
  replication: Array<{ application_name: string; client_addr: string | null; state: string; sync_state: string }>;
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
  clone(from: Upstream): Promise<void>;
  promote(): Promise<void>;
  createRolesAndDatabases(users: Array<UserSpec & { passwordFile: string }>, databases: DatabaseSpec[]): Promise<void>;
  /** Creates the physical slots named and drops other physical slots. */
  syncSlots(wanted: string[]): Promise<void>;
  reload(): Promise<void>;
  removeDataDir(): Promise<void>;
  close(): Promise<void>;
}
