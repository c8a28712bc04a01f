// The agent's control loop: observe, decide, act, publish; one pass every loop_wait seconds or when woken.
import { errorMessage } from '../base/errors.js';
import type { Logger } from '../base/log.js';
import { sleep } from '../base/wait.js';
import type { AgentConfig } from '../config/types.js';
import type { ClusterStore } from '../dcs/cluster-store.js';
import type { ClusterView, MemberStatus } from '../model/cluster.js';
import { act, desiredParameters, type ActContext } from './act.js';
import { decide, type Decision } from './decide.js';
import type { LocalPostgres, PgDetails } from './local.js';
import { memberData, pgpilotVersion } from './member-data.js';
import type { Observation, PgSnapshot } from './observation.js';

export interface LoopOptions {
  config: AgentConfig;
  store: ClusterStore;
  local: LocalPostgres;
  logger: Logger;
  now?: () => number;
}

type Snapshot = (PgSnapshot & PgDetails) | undefined;

export class HaLoop {
  private state = 'stopped';
  private lastReason = '';
  private lastView: ClusterView | undefined;
  private lastSnapshot: Snapshot;
  private lastObservation: Observation | undefined;
  private lastLoopAt = 0;
  private wakeUp: AbortController = new AbortController();
  private readonly stopped = new AbortController();
  private readonly now: () => number;
  private readonly pending: Array<{ job: () => Promise<void>; done: (e?: unknown) => void }> = [];

  constructor(private readonly o: LoopOptions) {
    this.now = o.now ?? Date.now;
  }

  /** Runs until stop(). */
  async run(): Promise<void> {
    while (!this.stopped.signal.aborted) {
      await this.runOnce();
      await this.runRequests();
      const waitMs = (this.lastView?.config?.loop_wait ?? this.o.config.ha.loopWait) * 1000;
      await sleep(waitMs, AbortSignal.any([this.wakeUp.signal, this.stopped.signal]));
      if (this.wakeUp.signal.aborted) this.wakeUp = new AbortController();
    }
  }

  stop(): void {
    this.stopped.abort();
  }

  /** Starts the next pass now. */
  wake(): void {
    this.wakeUp.abort();
  }

  /** Runs `job` between two passes (so it never races a decision), resolving when it is done. */
  request(job: () => Promise<void>): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ job, done: (e) => (e === undefined ? resolve() : reject(e instanceof Error ? e : new Error(errorMessage(e)))) });
      this.wake();
    });
  }

  private async runRequests(): Promise<void> {
    for (let r = this.pending.shift(); r !== undefined; r = this.pending.shift()) {
      try {
        await r.job();
        r.done();
      } catch (e) {
        r.done(e);
      }
    }
  }

  async runOnce(): Promise<void> {
    const { logger } = this.o;
    try {
      const obs = await this.observe();
      const decision = decide(obs);
      this.logDecision(decision);
      await act(this.actContext(), decision.action, obs);
      await this.applyParameters();
      await this.publish();
    } catch (e) {
      logger.error('loop failed', { error: errorMessage(e) });
    }
    this.lastLoopAt = this.now();
  }

  private actContext(): ActContext {
    return { config: this.o.config, store: this.o.store, local: this.o.local, logger: this.o.logger, setState: (s) => (this.state = s) };
  }

  private logDecision(d: Decision): void {
    if (d.reason === this.lastReason) return this.o.logger.debug(d.reason, { action: d.action.kind });
    this.lastReason = d.reason;
    this.o.logger.info(d.reason, { action: d.action.kind });
  }

  private async observe(): Promise<Observation> {
    const { store, local, config, logger } = this.o;
    let view: ClusterView | undefined;
    let holdsLeader = false;
    try {
      await store.refreshSession(this.lastView?.config?.ttl ?? config.ha.ttl);
      view = await store.load();
      holdsLeader = await store.holdsLeader(config.name, view);
    } catch (e) {
      logger.warn('DCS unreachable', { error: errorMessage(e) });
      view = undefined;
    }
    const dataDir = await local.dataDirState();
    const postmasterPid = dataDir === 'initialized' ? await local.postmasterPid() : undefined;
    const pg = postmasterPid === undefined ? undefined : await local.snapshot();
    if (postmasterPid === undefined && this.state === 'running') this.state = 'crashed';
    if (pg !== undefined && this.state !== 'running') this.state = 'running';
    this.lastView = view ?? this.lastView;
    this.lastSnapshot = pg;
    const obs: Observation = {
      now: this.now(),
      me: { name: config.name, nofailover: config.tags.nofailover },
      dcs: view,
      holdsLeader,
      local: { dataDir, postmasterPid, pg, following: local.upstream?.name },
      maximumLagOnFailover: view?.config?.maximum_lag_on_failover ?? config.ha.maximumLagOnFailover,
    };
    this.lastObservation = obs;
    return obs;
  }

  /** Rewrites the configuration and reloads when the parameters in force changed (e.g. after `pgpilot apply`). */
  private async applyParameters(): Promise<void> {
    const { local, config, logger } = this.o;
    if (this.lastSnapshot === undefined || local.parameters === undefined) return;
    const desired = desiredParameters(config, this.lastView);
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
    if (this.lastObservation?.dcs === undefined) return;
    await store.touchMember(config.name, memberData(config, this.state, this.lastSnapshot, postmasterPid));
  }

  /** The member's status for the REST API. */
  status(): MemberStatus {
    const pg = this.lastSnapshot;
    const view = this.lastView;
    const isLeader = view?.leader?.name === this.o.config.name;
    const optime = view?.optime;
    const received = pg?.receivedPosition ?? pg?.walPosition;
    return {
      name: this.o.config.name,
      scope: this.o.config.scope,
      state: this.state,
      role: pg === undefined ? 'uninitialized' : pg.inRecovery ? 'replica' : 'primary',
      isLeader,
      timeline: pg?.timeline,
      walPosition: pg !== undefined && !pg.inRecovery ? Number(pg.walPosition) : undefined,
      receivedPosition: pg?.receivedPosition === undefined ? undefined : Number(pg.receivedPosition),
      replayedPosition: pg?.replayedPosition === undefined ? undefined : Number(pg.replayedPosition),
      lagBytes: pg?.inRecovery === true && optime !== undefined && received !== undefined ? Math.max(0, optime - Number(received)) : undefined,
      streaming: pg?.streaming ?? false,
      postmasterStartTime: pg?.postmasterStartTime,
      serverVersion: pg?.serverVersion,
      systemIdentifier: pg?.systemIdentifier,
      pendingRestart: pg?.pendingRestart ?? false,
      paused: view?.config?.pause === true,
      tags: this.o.config.tags,
      replication: pg?.replication ?? [],
      lastLoopAt: this.lastLoopAt,
      ttlSeconds: view?.config?.ttl ?? this.o.config.ha.ttl,
      version: pgpilotVersion,
    };
  }

  get currentView(): ClusterView | undefined {
    return this.lastView;
  }
}
