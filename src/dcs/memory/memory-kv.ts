// An in-memory KvStore with etcd's semantics (revisions, leases on an injected clock, conditional writes, watches).
import { PgpilotError } from '../../base/errors.js';
import type { DeleteOptions, KvEntry, KvStore, PutOptions, WatchEvent } from '../kv.js';

/** The fake store, plus a switch that makes every call fail as if etcd were unreachable. */
export interface MemoryKv extends KvStore {
  setReachable(reachable: boolean): void;
}

interface Lease {
  ttlSeconds: number;
  expiresAt: number;
}

interface Watcher {
  prefix: string;
  onEvent: (event: WatchEvent) => void;
}

/** The conditions of a write, held against every key it touches (as an etcd txn compare over a range). */
type Conditions = Pick<PutOptions, 'ifAbsent' | 'ifValue' | 'ifModRevision'>;

/**
 * A fake for unit tests. Leases expire by `now()` (milliseconds); expiry is applied at the start of each call, like a
 * server that was running all along. Watch events are delivered asynchronously (one microtask each), in order.
 */
export function memoryKv(options: { now?: () => number } = {}): MemoryKv {
  const now = options.now ?? Date.now;
  const entries = new Map<string, KvEntry>();
  const leases = new Map<string, Lease>();
  const history: { revision: number; event: WatchEvent }[] = [];
  const watchers = new Set<Watcher>();
  let revision = 1;
  let lastLeaseId = 0;
  let reachable = true;

  function unreachable(operation: string): PgpilotError {
    return new PgpilotError('Dcs', `memory DCS unreachable during ${operation}`, {
      hint: 'the test made the fake DCS unreachable with setReachable(false)',
    });
  }

  /** Every call goes through here: fails when unreachable, lets expired leases take their keys, then runs `body`. */
  function run<T>(operation: string, body: () => T): Promise<T> {
    // A throw in the executor rejects the promise.
    return new Promise((resolve) => {
      if (!reachable) throw unreachable(operation);
      for (const [id, lease] of leases) {
        if (lease.expiresAt <= now()) dropLease(id);
      }
      resolve(body());
    });
  }

  function dropLease(id: string): void {
    leases.delete(id);
    removeKeys([...entries.values()].filter((e) => e.lease === id).map((e) => e.key));
  }

  /** Deletes `keys` in one revision; returns whether there were any. */
  function removeKeys(keys: string[]): boolean {
    if (keys.length === 0) return false;
    revision += 1;
    for (const key of keys) {
      entries.delete(key);
      publish({ type: 'delete', key, modRevision: revision });
    }
    return true;
  }

  function publish(event: WatchEvent): void {
    history.push({ revision, event });
    for (const watcher of watchers) deliver(watcher, event);
  }

  function deliver(watcher: Watcher, event: WatchEvent): void {
    const key = event.type === 'put' ? event.entry.key : event.key;
    if (key.startsWith(watcher.prefix)) queueMicrotask(() => watcher.onEvent(event));
  }

  function under(prefix: string): KvEntry[] {
    return [...entries.values()].filter((e) => e.key.startsWith(prefix)).sort((a, b) => (a.key < b.key ? -1 : 1));
  }

  function holds(targets: KvEntry[], conditions: Conditions): boolean {
    if (conditions.ifAbsent === true && targets.length > 0) return false;
    if (conditions.ifValue !== undefined) {
      if (targets.length === 0 || targets.some((e) => e.value !== conditions.ifValue)) return false;
    }
    const mod = conditions.ifModRevision;
    if (mod === undefined) return true;
    return targets.length === 0 ? mod === 0 : targets.every((e) => e.modRevision === mod);
  }

  function put(key: string, value: string, options: PutOptions): boolean {
    const lease = options.lease ?? '0';
    if (lease !== '0' && !leases.has(lease)) {
      throw new PgpilotError('Dcs', `memory DCS put ${key}: lease ${lease} not found`, {
        hint: 'the lease expired or was revoked: grant a new one',
      });
    }
    const current = entries.get(key);
    if (!holds(current === undefined ? [] : [current], options)) return false;
    revision += 1;
    const entry = { key, value, modRevision: revision, createRevision: current?.createRevision ?? revision, lease };
    entries.set(key, entry);
    publish({ type: 'put', entry: { ...entry } });
    return true;
  }

  function remove(key: string, options: DeleteOptions): boolean {
    const current = entries.get(key);
    const targets = options.prefix === true ? under(key) : current === undefined ? [] : [current];
    return holds(targets, options) && removeKeys(targets.map((e) => e.key));
  }

  function grantLease(ttlSeconds: number): string {
    lastLeaseId += 1;
    const id = String(lastLeaseId);
    leases.set(id, { ttlSeconds, expiresAt: now() + ttlSeconds * 1000 });
    return id;
  }

  function keepAlive(lease: string): number {
    const found = leases.get(lease);
    if (found === undefined) return 0;
    found.expiresAt = now() + found.ttlSeconds * 1000;
    return found.ttlSeconds;
  }

  function watch(
    prefix: string,
    fromRevision: number,
    onEvent: (event: WatchEvent) => void,
    signal: AbortSignal,
    onError?: (error: unknown) => void,
  ): void {
    if (signal.aborted) return;
    if (!reachable) queueMicrotask(() => onError?.(unreachable('watch')));
    const watcher: Watcher = {
      prefix,
      onEvent: (event) => {
        if (!signal.aborted) onEvent(event);
      },
    };
    for (const past of history) {
      if (past.revision > fromRevision) deliver(watcher, past.event);
    }
    watchers.add(watcher);
    signal.addEventListener('abort', () => watchers.delete(watcher), { once: true });
  }

  return {
    range: (prefix) => run('range', () => ({ entries: under(prefix).map((e) => ({ ...e })), revision })),
    get: (key) => run('get', () => {
      const entry = entries.get(key);
      return entry === undefined ? undefined : { ...entry };
    }),
    put: (key, value, options = {}) => run('put', () => put(key, value, options)),
    delete: (key, options = {}) => run('delete', () => remove(key, options)),
    grantLease: (ttlSeconds) => run('grantLease', () => grantLease(ttlSeconds)),
    keepAlive: (lease) => run('keepAlive', () => keepAlive(lease)),
    revokeLease: (lease) => run('revokeLease', () => dropLease(lease)),
    watch,
    setReachable: (value) => {
      reachable = value;
    },
    close: () => {
      watchers.clear();
      return Promise.resolve();
    },
  };
}
