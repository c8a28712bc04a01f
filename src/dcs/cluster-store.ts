// The cluster's state in the DCS, read and written in Patroni's layout on top of a KvStore.
import { PgpilotError } from '../base/errors.js';
import type { ClusterMember, ClusterView, DynamicConfig, HistoryEntry, MemberData } from '../model/cluster.js';
import { clusterKeys, type ClusterKeys } from './keys.js';
import type { KvEntry, KvStore, WatchEvent } from './kv.js';

function parseJson(entry: KvEntry | undefined): unknown {
  if (entry === undefined || entry.value === '') return undefined;
  try {
    return JSON.parse(entry.value);
  } catch {
    return undefined;
  }
}

function asObject<T>(value: unknown): T | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as T) : undefined;
}

/** Patroni stores either JSON or a bare conn_url as a member's value. */
function parseMember(name: string, entry: KvEntry): ClusterMember {
  const json = asObject<MemberData>(parseJson(entry));
  const data: MemberData = json ?? { conn_url: entry.value, api_url: '', state: 'unknown', role: 'uninitialized', version: '' };
  return { name, data };
}

export function viewFromEntries(scope: string, keys: ClusterKeys, entries: KvEntry[], revision: number): ClusterView {
  const byKey = new Map(entries.map((e) => [e.key, e]));
  const leaderEntry = byKey.get(keys.leader);
  const configEntry = byKey.get(keys.config);
  const history = parseJson(byKey.get(keys.history));
  const status = asObject<{ optime?: number }>(parseJson(byKey.get(keys.status)));
  const members = entries
    .filter((e) => e.key.startsWith(keys.members))
    .map((e) => parseMember(e.key.slice(keys.members.length), e))
    .sort((a, b) => a.name.localeCompare(b.name));
  return {
    scope,
    initialize: byKey.get(keys.initialize)?.value,
    config: asObject<DynamicConfig>(parseJson(configEntry)),
    configRevision: configEntry?.modRevision ?? 0,
    leader: leaderEntry === undefined ? undefined : { name: leaderEntry.value, lease: leaderEntry.lease },
    members,
    history: Array.isArray(history) ? (history as HistoryEntry[]) : [],
    optime: typeof status?.optime === 'number' ? status.optime : undefined,
    failover: asObject(parseJson(byKey.get(keys.failover))),
    sync: asObject(parseJson(byKey.get(keys.sync))),
    revision,
  };
}

/** One agent's handle on the cluster's keys; holds the agent's session lease (member key and leader key use it). */
export class ClusterStore {
  readonly keys: ClusterKeys;
  private lease: string | undefined;

  constructor(
    private readonly kv: KvStore,
    namespace: string,
    readonly scope: string,
  ) {
    this.keys = clusterKeys(namespace, scope);
  }

  async load(): Promise<ClusterView> {
    const { entries, revision } = await this.kv.range(this.keys.prefix);
    return viewFromEntries(this.scope, this.keys, entries, revision);
  }

  /** Refreshes the session lease, granting a new one when it expired; returns the lease id. */
  async refreshSession(ttlSeconds: number): Promise<string> {
    if (this.lease !== undefined && (await this.kv.keepAlive(this.lease)) > 0) return this.lease;
    this.lease = await this.kv.grantLease(ttlSeconds);
    return this.lease;
  }

  /** Refreshes the current session lease without granting a new one (for keep-alive during long work). */
  async keepSessionAlive(): Promise<void> {
    if (this.lease !== undefined) await this.kv.keepAlive(this.lease);
  }

  get sessionLease(): string | undefined {
    return this.lease;
  }

  private requireLease(): string {
    if (this.lease === undefined) throw new PgpilotError('Dcs', 'no DCS session yet: refreshSession() must run first');
    return this.lease;
  }

  async touchMember(name: string, data: MemberData): Promise<void> {
    await this.kv.put(this.keys.member(name), JSON.stringify(data), { lease: this.requireLease() });
  }

  /** Removes every key of the cluster (an in-place restore starts the cluster's DCS state afresh). */
  async forget(): Promise<void> {
    await this.kv.delete(this.keys.prefix, { prefix: true });
  }

  async deleteMember(name: string): Promise<void> {
    await this.kv.delete(this.keys.member(name));
  }

  /** Creates the leader key for `name` if nobody holds it. */
  async acquireLeader(name: string): Promise<boolean> {
    return this.kv.put(this.keys.leader, name, { lease: this.requireLease(), ifAbsent: true });
  }

  /** True while the leader key is ours and attached to our live session (call after refreshSession). */
  async holdsLeader(name: string, view: ClusterView): Promise<boolean> {
    if (view.leader?.name !== name) return false;
    if (view.leader.lease === this.lease) return true;
    // Our session was re-granted: move the leader key onto the new lease atomically.
    return this.kv.put(this.keys.leader, name, { lease: this.requireLease(), ifValue: name });
  }

  async releaseLeader(name: string): Promise<boolean> {
    return this.kv.delete(this.keys.leader, { ifValue: name });
  }

  /** Races for the right to initialize the cluster (Patroni writes an empty value first, the system id after). */
  async claimInitialize(): Promise<boolean> {
    return this.kv.put(this.keys.initialize, '', { ifAbsent: true });
  }

  async setInitialize(systemIdentifier: string): Promise<void> {
    await this.kv.put(this.keys.initialize, systemIdentifier);
  }

  async cancelInitialize(): Promise<void> {
    await this.kv.delete(this.keys.initialize, { ifValue: '' });
  }

  /** Writes the config key; with `ifRevision`, only if nobody changed it since (0 = only if absent). */
  async setConfig(config: DynamicConfig, ifRevision?: number): Promise<boolean> {
    const value = JSON.stringify(config);
    return ifRevision === undefined
      ? this.kv.put(this.keys.config, value)
      : this.kv.put(this.keys.config, value, { ifModRevision: ifRevision });
  }

  async setHistory(history: HistoryEntry[]): Promise<void> {
    await this.kv.put(this.keys.history, JSON.stringify(history));
  }

  /** Patroni's sync key: the leader and the comma-separated members holding every acknowledged commit. */
  async setSync(leader: string, standbys: string[]): Promise<void> {
    await this.kv.put(this.keys.sync, JSON.stringify({ leader, sync_standby: standbys.length === 0 ? null : standbys.join(',') }));
  }

  /** Patroni's failover key: a switchover (leader set) or failover request, maybe scheduled. */
  async setFailover(request: { leader?: string; member?: string; scheduled_at?: string }): Promise<void> {
    await this.kv.put(this.keys.failover, JSON.stringify(request));
  }

  async clearFailover(): Promise<void> {
    await this.kv.delete(this.keys.failover);
  }

  async setStatus(optime: number): Promise<void> {
    await this.kv.put(this.keys.status, JSON.stringify({ optime }));
  }

  /** Every change under the cluster's prefix after `revision`, until `signal` aborts. */
  watch(revision: number, onEvent: (event: WatchEvent) => void, signal: AbortSignal, onError?: (e: unknown) => void): void {
    this.kv.watch(this.keys.prefix, revision, onEvent, signal, onError);
  }

  /** Revokes the session: our member key and (if ours) the leader key disappear at once. */
  async closeSession(): Promise<void> {
    if (this.lease === undefined) return;
    const lease = this.lease;
    this.lease = undefined;
    await this.kv.revokeLease(lease);
  }
}
