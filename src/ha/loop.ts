// The agent's control loop: observe, decide, act, publish; one pass every loop_wait seconds, or at once when woken
// (a leader change seen by the etcd watch, the postmaster exiting, an API request).
import { errorMessage } from '../base/errors.js';
import type { Logger } from '../base/log.js';
import { sleep } from '../base/wait.js';
import type { AgentConfig } from '../config/types.js';
import type { ClusterStore } from '../dcs/cluster-store.js';
import type { ClusterView, MemberStatus } from '../model/cluster.js';
import { act } from './act.js';
import { desiredParameters, type ActContext } from './act-context.js';
import { decide, type Decision } from './decide.js';
import type { ClientRouting, LocalPostgres, PgDetails } from './local.js';
import { memberData } from './member-data.js';
import { memberStatus } from './member-status.js';
import type { Latches, Observation, PeerState, PgSnapshot } from './observation.js';
import { failsafePing, queryPeers } from './peers.js';
import { syncPolicy } from './sync.js';

/** Actions that leave the member as it was; after any other, the next pass runs without waiting. */
const quietActions = new Set(['wait', 'lead', 'follow', 'failsafe', 'clearFailover']);

export interface LoopOptions {
  config: AgentConfig;
  store: ClusterStore;
  local: LocalPostgres;
  routing?: ClientRouting | undefined;
  /** The API token, sent with failsafe pings to the other members. */
  token: string;
  logger: Logger;
  now?: () => number;
}

type Snapshot = (PgSnapshot & PgDetails) | undefined;

export class HaLoop {
  private state = 'stopped';
  private lastReason = '';
  private lastView: ClusterView | undefined;
  private lastSnapshot: Snapshot;
  private dcsReachable = false;
  private lastLoopAt = 0;
  /** The last pass changed the member's role or state: run the next one at once (e.g. a new leader's duties). */
  private changedRole = false;
  private standbyNames = '';
  private switchoverRefusal: { reason: string; at: number } | undefined;
  private readonly latches: Latches = { primaryStartFailures: 0, failsafeFrom: undefined, leaseRenewedAt: undefined, notStreamingSince: undefined };
  private wakeUp: AbortController = new AbortController();
  private readonly stopped = new AbortController();
  private watching = false;
  private readonly now: () => number;
  private readonly pending: Array<{ job: () => Promise<void>; done: (e?: unknown) => void }> = [];

  constructor(private readonly o: LoopOptions) {
    this.now = o.now ?? Date.now;
  }

  /** Runs until stop(). */
  async run(): Promise<void> {
    while (!this.stopped.signal.aborted) {
      await this.runOnce();
      if ((await this.runRequests()) || this.changedRole) continue;
      await sleep(this.loopWaitMs(), AbortSignal.any([this.wakeUp.signal, this.stopped.signal]));
      if (this.wakeUp.signal.aborted) this.wakeUp = new AbortController();
    }
  }

  stop(): void {
    this.stopped.abort();
  }

  private ttlSeconds(): number {
    return this.lastView?.config?.ttl ?? this.o.config.ha.ttl;
  }

  private loopWaitMs(): number {
    return (this.lastView?.config?.loop_wait ?? this.o.config.ha.loopWait) * 1000;
  }

  /**
   * Keeps the session lease (and so the leader key and member key) alive while `work` runs: a restart, crash recovery
   * or a clone can outlast the ttl, and only the loop renews otherwise.
   */
  private async withLeaseKept<T>(work: () => Promise<T>): Promise<T> {
    const timer = setInterval(() => {
      this.o.store.keepSessionAlive().catch(() => undefined);
    }, this.loopWaitMs());
    try {
      return await work();
    } finally {
      clearInterval(timer);
    }
  }

  /** Starts the next pass now. */
  wake(): void {
    this.wakeUp.abort();
  }

  /** Why the last switchover request was refused, if that happened after `since` (ms). */
  switchoverRefusedSince(since: number): string | undefined {
    const r = this.switchoverRefusal;
    return r !== undefined && r.at >= since ? r.reason : undefined;
  }

  /** The leader told us (POST /failsafe) it is alive while the DCS is unreachable. */
  failsafeFrom(leader: string): void {
    this.latches.failsafeFrom = { leader, at: this.now() };
  }

  /** Runs `job` between two passes (so it never races a decision), resolving when it is done. */
  request(job: () => Promise<void>): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ job, done: (e) => (e === undefined ? resolve() : reject(e instanceof Error ? e : new Error(errorMessage(e)))) });
      this.wake();
    });
  }

  private async runRequests(): Promise<boolean> {
    let ran = false;
    for (let r = this.pending.shift(); r !== undefined; r = this.pending.shift()) {
      ran = true;
      try {
        await this.withLeaseKept(r.job);
        r.done();
      } catch (e) {
        r.done(e);
      }
    }
    return ran;
  }

  async runOnce(): Promise<void> {
    const { logger } = this.o;
    try {
      const obs = await this.observe();
      const decision = decide(obs);
      this.logDecision(decision);
      this.changedRole = !quietActions.has(decision.action.kind);
      if (decision.action.kind === 'clearFailover') this.switchoverRefusal = { reason: decision.reason, at: this.now() };
      await this.act(decision, obs);
      await this.applyParameters();
      await this.publish();
    } catch (e) {
      this.changedRole = false;
      logger.error('loop failed', { error: errorMessage(e) });
    }
    this.lastLoopAt = this.now();
  }

  private async act(decision: Decision, obs: Observation): Promise<void> {
    try {
      await this.withLeaseKept(() => act(this.actContext(), decision.action, obs));
    } catch (e) {
      if (decision.action.kind === 'startPrimary') this.latches.primaryStartFailures += 1;
      throw e;
    }
  }

  private actContext(): ActContext {
    return {
      config: this.o.config,
      store: this.o.store,
      local: this.o.local,
      routing: this.o.routing,
      logger: this.o.logger,
      setState: (s) => (this.state = s),
      setStandbyNames: (names) => (this.standbyNames = names),
      standbyNames: () => this.standbyNames,
      refuseSwitchover: (reason) => (this.switchoverRefusal = { reason, at: this.now() }),
    };
  }

  private logDecision(d: Decision): void {
    if (d.reason === this.lastReason) return this.o.logger.debug(d.reason, { action: d.action.kind });
    this.lastReason = d.reason;
    this.o.logger.info(d.reason, { action: d.action.kind });
  }

  /** Reads the DCS (renewing our session first); undefined when it cannot be reached. */
  private async readDcs(): Promise<{ view: ClusterView; holdsLeader: boolean } | undefined> {
    const { store, config, logger } = this.o;
    try {
      const sentAt = this.now();
      await store.refreshSession(this.ttlSeconds());
      this.latches.leaseRenewedAt = sentAt;
      const view = await store.load();
      this.dcsReachable = true;
      this.ensureWatch(view.revision);
      // Register at once when our key is gone (first start, or back after an outage longer than the ttl): the leader
      // creates our replication slot from it before our PostgreSQL asks for it.
      if (!view.members.some((m) => m.name === config.name)) await this.publish();
      return { view, holdsLeader: await store.holdsLeader(config.name, view) };
    } catch (e) {
      if (this.dcsReachable) logger.warn('DCS unreachable', { error: errorMessage(e) });
      this.dcsReachable = false;
      return undefined;
    }
  }

  /** Peers are asked only when it matters: no leader (failover), a switchover request, or no DCS (failsafe). */
  private async peers(view: ClusterView | undefined, pg: Snapshot, holdsLeader: boolean): Promise<Record<string, PeerState> | undefined> {
    const me = this.o.config.name;
    if (view === undefined) {
      const members = this.lastView?.members ?? [];
      return pg !== undefined && !pg.inRecovery && members.length > 0 ? failsafePing(members, me, this.o.token) : undefined;
    }
    const failoverDue = view.failover !== undefined && (holdsLeader || view.leader === undefined);
    return view.leader === undefined || failoverDue ? queryPeers(view.members, me) : undefined;
  }

  private async observe(): Promise<Observation> {
    const { local, config } = this.o;
    const dcs = await this.readDcs();
    const view = dcs?.view;
    const dataDir = await local.dataDirState();
    const postmasterPid = dataDir === 'initialized' ? await local.postmasterPid() : undefined;
    const pg = postmasterPid === undefined ? undefined : await local.snapshot();
    const wasPrimary = dataDir === 'initialized' && postmasterPid === undefined ? await local.wasPrimary() : undefined;
    if (postmasterPid === undefined && this.state === 'running') this.state = 'crashed';
    if (pg !== undefined && this.state !== 'running') this.state = 'running';
    if (pg !== undefined && !pg.inRecovery) this.latches.primaryStartFailures = 0;
    const streamingNow = pg === undefined || !pg.inRecovery || pg.streaming;
    this.latches.notStreamingSince = streamingNow ? undefined : (this.latches.notStreamingSince ?? this.now());
    this.lastView = view ?? this.lastView;
    this.lastSnapshot = pg;
    const effective = view ?? this.lastView;
    return {
      now: this.now(),
      me: { name: config.name, nofailover: config.tags.nofailover, bootstrap: config.bootstrap.method },
      dcs: view,
      holdsLeader: dcs?.holdsLeader ?? false,
      local: { dataDir, postmasterPid, pg, following: local.upstream?.name, wasPrimary },
      maximumLagOnFailover: effective?.config?.maximum_lag_on_failover ?? config.ha.maximumLagOnFailover,
      ttlMs: this.ttlSeconds() * 1000,
      loopWaitMs: this.loopWaitMs(),
      requestTimeoutMs: config.ha.retryTimeout * 1000,
      sync: syncPolicy(effective?.config),
      peers: await this.peers(view, pg, dcs?.holdsLeader ?? false),
      latches: { ...this.latches },
    };
  }

  /** Wakes the loop at once when the leader, failover, sync or config key changes. */
  private ensureWatch(revision: number): void {
    if (this.watching) return;
    this.watching = true;
    const { keys } = this.o.store;
    const interesting = new Set([keys.leader, keys.failover, keys.config, keys.sync]);
    this.o.store.watch(
      revision,
      (event) => {
        const key = event.type === 'put' ? event.entry.key : event.key;
        if (interesting.has(key)) this.wake();
      },
      this.stopped.signal,
      (e) => this.o.logger.debug('DCS watch interrupted', { error: errorMessage(e) }),
    );
  }

  /** Rewrites the configuration and reloads when the parameters in force changed (after `apply`, or sync changes). */
  private async applyParameters(): Promise<void> {
    const { local, config, logger } = this.o;
    if (this.lastSnapshot === undefined || local.parameters === undefined) return;
    const desired = desiredParameters(config, this.lastView, this.standbyNames);
    if (JSON.stringify(desired) === JSON.stringify(local.parameters)) return;
    logger.info('parameters changed: rewriting configuration and reloading');
    await local.configure(local.upstream, desired);
    await local.reload();
  }

  /** Writes our member key with what we saw this pass (and what acting changed). */
  private async publish(): Promise<void> {
    const { store, local, config } = this.o;
    const postmasterPid = await local.postmasterPid().catch(() => undefined);
    this.lastSnapshot = postmasterPid === undefined ? undefined : await local.snapshot();
    if (postmasterPid === undefined && this.state === 'running') this.state = 'stopped';
    if (!this.dcsReachable || store.sessionLease === undefined) return;
    await store.touchMember(config.name, memberData(config, this.state, this.lastSnapshot, postmasterPid));
  }

  /** The member's status for the REST API. */
  status(): MemberStatus {
    return memberStatus({ config: this.o.config, state: this.state, pg: this.lastSnapshot, view: this.lastView, lastLoopAt: this.lastLoopAt });
  }

  get currentView(): ClusterView | undefined {
    return this.lastView;
  }
}
