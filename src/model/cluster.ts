// The cluster as the DCS holds it (Patroni's key layout and JSON), and a member's local status.

/** JSON stored at /<namespace>/<scope>/members/<name>, Patroni-compatible. */
export interface MemberData {
  conn_url: string;
  api_url: string;
  /** Patroni state string: running, starting, stopped, crashed, creating replica, ... */
  state: string;
  /** Patroni 3.0 role names: master | replica | uninitialized. */
  role: 'master' | 'replica' | 'uninitialized';
  version: string;
  xlog_location?: number;
  /** Bytes of WAL received (replicas), for failover choice. */
  received_location?: number;
  replayed_location?: number;
  timeline?: number;
  pending_restart?: boolean;
  tags?: Record<string, unknown>;
  /** pgpilot extras (Patroni ignores unknown fields). */
  pgpilot?: { agentPid?: number; postgresPid?: number; streaming?: boolean };
}

export interface ClusterMember {
  name: string;
  data: MemberData;
}

/** Patroni's dynamic configuration (the config key): snake_case as patronictl edit-config writes it. */
export interface DynamicConfig {
  ttl: number;
  loop_wait: number;
  retry_timeout: number;
  maximum_lag_on_failover: number;
  postgresql: { parameters: Record<string, string | number | boolean>; use_pg_rewind?: boolean };
  pause?: boolean;
  [extra: string]: unknown;
}

/** One timeline switch: [timeline, lsn where the previous timeline ended, reason, ISO time, new leader]. */
export type HistoryEntry = [number, number, string, string?, string?];

export interface ClusterView {
  scope: string;
  /** System identifier of the cluster, once initialized. */
  initialize: string | undefined;
  config: DynamicConfig | undefined;
  /** Revision of the config key, for compare-and-set updates. */
  configRevision: number;
  leader: { name: string; lease: string } | undefined;
  members: ClusterMember[];
  history: HistoryEntry[];
  /** Patroni's status key: the leader's last WAL position. */
  optime: number | undefined;
  failover: { leader?: string; member?: string; scheduled_at?: string } | undefined;
  sync: { leader?: string; sync_standby?: string | null } | undefined;
  /** Store revision the view was read at (watch from here). */
  revision: number;
}

export type PostgresRole = 'primary' | 'replica' | 'uninitialized';

/** What the local agent knows of its own member, used by health endpoints and /patroni. */
export interface MemberStatus {
  name: string;
  scope: string;
  /** Patroni state string (see MemberData.state). */
  state: string;
  role: PostgresRole;
  /** Holds the leader key. */
  isLeader: boolean;
  timeline: number | undefined;
  /** Primary: current WAL write position. Replica: undefined. */
  walPosition: number | undefined;
  receivedPosition: number | undefined;
  replayedPosition: number | undefined;
  /** Replica: bytes behind the leader's last known position. */
  lagBytes: number | undefined;
  /** Replica: the WAL receiver is streaming. */
  streaming: boolean;
  postmasterStartTime: string | undefined;
  serverVersion: number | undefined;
  systemIdentifier: string | undefined;
  pendingRestart: boolean;
  paused: boolean;
  tags: { nofailover: boolean };
  /** Primary: its replication connections. */
  replication: Array<{ application_name: string; client_addr: string | null; state: string; sync_state: string }>;
  /** Time (ms since epoch) the agent loop last completed; liveness fails when it is older than ttl. */
  lastLoopAt: number;
  ttlSeconds: number;
  /** Version string pgpilot reports in Patroni-compatible fields. */
  version: string;
}
