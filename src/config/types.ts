// The validated shapes of the cluster manifest and of a member agent's config; the schema in config/ produces these.

export type ParameterValue = string | number | boolean;

export interface UserSpec {
  /** Role name. */
  name: string;
  /** Extra role attributes, e.g. CREATEDB (LOGIN is always given). */
  options: string[];
}

export interface DatabaseSpec {
  name: string;
  /** A role from spec.users. */
  owner: string;
}

export interface HaSpec {
  /** Leader lease time-to-live, seconds. */
  ttl: number;
  /** Seconds between two agent loops. */
  loopWait: number;
  /** Seconds the agent retries DCS and PostgreSQL operations before giving up on a loop. */
  retryTimeout: number;
  /** A replica further behind than this (bytes) is not promoted. */
  maximumLagOnFailover: number;
  /** How a new or recloned replica gets its data directory, tried in order (Patroni's create_replica_methods). */
  replicaMethods: ReplicaMethod[];
}

/** backup: the newest backup of the first repository plus the archived WAL; basebackup: pg_basebackup from the leader. */
export type ReplicaMethod = 'backup' | 'basebackup';

export interface SynchronousSpec {
  /** off: asynchronous; on: FIRST `number`; quorum: ANY `number` of the healthy replicas. */
  mode: 'off' | 'on' | 'quorum';
  number: number;
  /** Block commits when no synchronous standby is available, instead of falling back to asynchronous. */
  strict: boolean;
}

export interface PoolerSpec {
  enabled: boolean;
  /** Read-write endpoint; the read-only endpoint is port + 1. */
  port: number;
  mode: 'session' | 'transaction';
}

export interface BackupRepoSpec {
  name: string;
  /** Directory of a posix repository; '' for S3. */
  path: string;
  s3: { bucket: string; endpoint: string; region: string; prefix: string; credentialsFile: string; forcePathStyle: boolean };
  retention: { full: number; fullType: 'count' | 'days'; diff: number };
  /** Cron expressions (UTC); '' for none. */
  schedules: { full: string; diff: string; incr: string };
  /** level 0 means the type's default. */
  compress: { type: 'zstd' | 'lz4' | 'gzip' | 'none'; level: number };
  /** '' for no encryption. */
  encryption: { passphraseFile: string };
}

export interface BackupSpec {
  repos: BackupRepoSpec[];
  fromStandby: boolean;
  jobs: number;
  logical: { repo: string; schedule: string; retention: number; databases: string[] };
}

export interface ClusterSpec {
  instances: number;
  postgres: {
    /** Address PostgreSQL listens on. */
    listen: string;
    /** Port of the first member; member i uses port + i. */
    port: number;
    parameters: Record<string, ParameterValue>;
  };
  api: {
    listen: string;
    /** Port of the first member's REST API; member i uses port + i. */
    port: number;
  };
  users: UserSpec[];
  databases: DatabaseSpec[];
  dcs: {
    /** External etcd client URLs; empty means the local runner starts a private etcd. */
    endpoints: string[];
    namespace: string;
  };
  ha: HaSpec;
  synchronous: SynchronousSpec;
  pooler: PoolerSpec;
  backup: BackupSpec;
  local: {
    restart: 'always' | 'never';
  };
}

export interface Manifest {
  apiVersion: 'pgpilot.dev/v1';
  kind: 'PostgresCluster';
  metadata: { name: string };
  spec: ClusterSpec;
}

/** One member agent's configuration (`pgpilot agent --config FILE`). */
export interface AgentConfig {
  /** Member name, unique in the cluster. */
  name: string;
  /** Cluster name: the DCS scope. */
  scope: string;
  /** DCS namespace, Patroni's default is /service. */
  namespace: string;
  dcs: { endpoints: string[] };
  postgres: {
    dataDir: string;
    binDir: string;
    listen: string;
    /** Host other members and clients use to reach this PostgreSQL. */
    connectAddress: string;
    port: number;
    /** Directory for the unix socket; defaults to the data directory's parent. */
    socketDir: string;
    logFile: string;
    /** OS user that runs initdb and postgres when the agent runs as root. */
    runAs: string;
    parameters: Record<string, ParameterValue>;
  };
  api: {
    listen: string;
    connectAddress: string;
    port: number;
    /** File holding the bearer token for mutating calls (mode 0600). */
    tokenFile: string;
  };
  secrets: {
    superuserPasswordFile: string;
    replicationPasswordFile: string;
  };
  bootstrap: {
    /**
     * How this member may initialize a new cluster: `initdb`; `existing`: adopt the data directory already there (a
     * restored backup); `none`: never (wait for a leader and clone it).
     */
    method: 'initdb' | 'existing' | 'none';
    users: Array<UserSpec & { passwordFile: string }>;
    databases: DatabaseSpec[];
  };
  /** Dynamic settings written to the DCS config key at bootstrap; the DCS copy wins afterwards. */
  ha: HaSpec;
  synchronous: SynchronousSpec;
  /** The poolers this agent keeps pointed at the primary (read-write) and the replicas (read-only), when it leads. */
  pooler: AgentPoolerConfig;
  backup: BackupSpec & {
    /** Local directory for the WAL archiver's spool (done markers, status) and backup job state. */
    spoolDir: string;
  };
  tags: { nofailover: boolean };
}

export interface AgentPoolerConfig {
  enabled: boolean;
  listen: string;
  /** Read-write port; read-only is port + 1. */
  port: number;
  mode: 'session' | 'transaction';
  /** Directory holding rw/ and ro/, one pgbouncer's files each (the local runner starts them). */
  dir: string;
  /** Databases the poolers serve. */
  databases: string[];
}
