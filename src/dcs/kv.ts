// The key-value store interface under the DCS: etcd v3 semantics (revisions, leases, conditional writes, watches).

export interface KvEntry {
  key: string;
  value: string;
  /** Revision of the last write to this key. */
  modRevision: number;
  createRevision: number;
  /** Lease id as a decimal string; '0' when the key has no lease. */
  lease: string;
}

export interface PutOptions {
  /** Attach the key to this lease (it disappears when the lease expires or is revoked). */
  lease?: string;
  /** Write only if the key does not exist. */
  ifAbsent?: boolean;
  /** Write only if the key's current value equals this. */
  ifValue?: string;
  /** Write only if the key's modRevision equals this (0 = absent). */
  ifModRevision?: number;
}

export interface DeleteOptions {
  /** Delete only if the key's current value equals this. */
  ifValue?: string;
  /** Delete every key under this prefix. */
  prefix?: boolean;
}

export type WatchEvent = { type: 'put'; entry: KvEntry } | { type: 'delete'; key: string; modRevision: number };

/** The capabilities pgpilot needs of a DCS backend. All methods throw PgpilotError('Dcs') when unreachable. */
export interface KvStore {
  /** Every key under `prefix`, with the store revision at which they were read. */
  range(prefix: string): Promise<{ entries: KvEntry[]; revision: number }>;
  get(key: string): Promise<KvEntry | undefined>;
  /** Returns false when a condition in `options` did not hold (nothing was written). */
  put(key: string, value: string, options?: PutOptions): Promise<boolean>;
  /** Returns false when a condition did not hold or nothing was deleted. */
  delete(key: string, options?: DeleteOptions): Promise<boolean>;
  /** Grants a lease of `ttlSeconds`, returns its id. */
  grantLease(ttlSeconds: number): Promise<string>;
  /** Refreshes a lease; returns its remaining TTL in seconds, or 0 when it has expired or is unknown. */
  keepAlive(lease: string): Promise<number>;
  revokeLease(lease: string): Promise<void>;
  /**
   * Calls `onEvent` for every change under `prefix` after `fromRevision` (exclusive of earlier ones) until `signal`
   * aborts. Reconnects by itself after errors; `onError` is told of each.
   */
  watch(
    prefix: string,
    fromRevision: number,
    onEvent: (event: WatchEvent) => void,
    signal: AbortSignal,
    onError?: (error: unknown) => void,
  ): void;
  close(): Promise<void>;
}
