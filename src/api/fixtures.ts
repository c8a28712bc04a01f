// Sample member statuses, cluster views and a fake backend for the API's and client's unit tests, in one place.
import { PgpilotError } from '../base/errors.js';
import { silentLogger } from '../base/log.js';
import type { ClusterView, DynamicConfig, MemberData, MemberStatus } from '../model/cluster.js';
import type { MemberBackend } from './backend.js';
import { mutatingJobKinds, type ArchiveStatus, type BackupEntry, type BackupListing, type BackupMetrics, type JobInfo } from './jobs.js';
import { startApiServer, type ApiServer } from './server.js';

export const fixtureNow = 1_700_000_000_000;

export function primaryStatus(overrides: Partial<MemberStatus> = {}): MemberStatus {
  return {
    name: 'pg-0',
    scope: 'demo',
    state: 'running',
    role: 'primary',
    isLeader: true,
    timeline: 2,
    walPosition: 0x3000060,
    receivedPosition: undefined,
    replayedPosition: undefined,
    lagBytes: undefined,
    streaming: false,
    postmasterStartTime: '2024-01-02 03:04:05.678+00:00',
    serverVersion: 150005,
    systemIdentifier: '7312345678901234567',
    pendingRestart: false,
    paused: false,
    tags: { nofailover: false },
    replication: [{ application_name: 'pg-1', client_addr: '127.0.0.1', state: 'streaming', sync_state: 'async' }],
    lastLoopAt: fixtureNow - 2000,
    ttlSeconds: 30,
    version: '0.1.0',
    ...overrides,
  };
}

export function replicaStatus(overrides: Partial<MemberStatus> = {}): MemberStatus {
  return primaryStatus({
    name: 'pg-1',
    role: 'replica',
    isLeader: false,
    walPosition: undefined,
    receivedPosition: 0x3000000,
    replayedPosition: 0x2fff000,
    lagBytes: 0x60,
    streaming: true,
    replication: [],
    ...overrides,
  });
}

export function memberData(overrides: Partial<MemberData> = {}): MemberData {
  return {
    conn_url: 'postgres://127.0.0.1:5432/postgres',
    api_url: 'http://127.0.0.1:8008/patroni',
    state: 'running',
    role: 'master',
    version: '0.1.0',
    timeline: 2,
    ...overrides,
  };
}

/** A leader pg-0 at 0/3000060, a replica pg-1 0x60 bytes behind, and pg-2 that reports no position. */
export function clusterView(overrides: Partial<ClusterView> = {}): ClusterView {
  return {
    scope: 'demo',
    initialize: '7312345678901234567',
    config: {
      ttl: 30,
      loop_wait: 10,
      retry_timeout: 10,
      maximum_lag_on_failover: 1048576,
      postgresql: { parameters: {} },
    },
    configRevision: 5,
    leader: { name: 'pg-0', lease: '1' },
    members: [
      {
        name: 'pg-2',
        data: memberData({ conn_url: 'postgres://[::1]:5434/postgres', role: 'replica', state: 'stopped' }),
      },
      { name: 'pg-0', data: memberData({ xlog_location: 0x3000060 }) },
      {
        name: 'pg-1',
        data: memberData({
          conn_url: 'postgres://127.0.0.1:5433/postgres',
          role: 'replica',
          received_location: 0x3000000,
          replayed_location: 0x2fff000,
        }),
      },
    ],
    history: [[1, 0x3000000, 'no recovery target specified', '2024-01-02T03:04:05+00:00', 'pg-0']],
    optime: 0x3000060,
    failover: undefined,
    sync: undefined,
    revision: 42,
    ...overrides,
  };
}

export function backupEntry(overrides: Partial<BackupEntry> = {}): BackupEntry {
  return {
    label: '20240102-030405F', type: 'full', status: 'complete', startTime: '2024-01-02T03:04:05.000Z', stopTime: '2024-01-02T03:05:05.000Z',
    startLsn: '0/2000028', stopLsn: '0/2000100', timeline: 1, databaseSize: 30_000_000, storedSize: 4_000_000, reference: null,
    checksumErrors: 0, encrypted: false, compress: 'zstd', member: 'pg-0', ...overrides,
  };
}

/** A backend that answers from `current` and `view` (tests change them) and records the mutating calls. */
export interface FakeBackend extends MemberBackend {
  current: MemberStatus;
  view: ClusterView;
  calls: string[];
  /** Jobs started, newest first; a running mutating one makes startJob fail as the agent's does. */
  jobList: JobInfo[];
  listing: BackupListing;
  archive: ArchiveStatus | undefined;
  metrics: BackupMetrics;
}

export function fakeBackend(): FakeBackend {
  const calls: string[] = [];
  return {
    current: primaryStatus({ lastLoopAt: Date.now() }),
    view: clusterView(),
    calls,
    status() {
      return this.current;
    },
    cluster() {
      return Promise.resolve(this.view);
    },
    patchConfig(patch) {
      return Promise.resolve({ ...this.view.config, ...patch } as DynamicConfig);
    },
    putConfig: (config) => Promise.resolve(config as DynamicConfig),
    restart: () => Promise.resolve(void calls.push('restart')),
    reload: () => Promise.resolve(void calls.push('reload')),
    switchover(request) {
      calls.push(`switchover ${request.leader ?? '-'} ${request.candidate ?? '-'} ${request.scheduledAt ?? '-'}`);
      return Promise.resolve(request.scheduledAt === undefined ? { status: 200, message: `Successfully switched over to "${request.candidate ?? '?'}"` } : { status: 202, message: 'Switchover scheduled' });
    },
    cancelSwitchover: () => Promise.resolve({ status: 404, message: 'no scheduled switchover' }),
    failsafe(leader) {
      calls.push(`failsafe ${leader}`);
      return this.current;
    },
    jobList: [],
    listing: { repos: [{ name: 'main', location: '/backups/main', backups: [backupEntry()] }] },
    archive: undefined,
    metrics: { backups: [], archive: undefined },
    leader() {
      return this.view.leader?.name;
    },
    startJob(kind, options) {
      const busy = this.jobList.find((j) => j.state === 'running' && mutatingJobKinds.has(j.kind));
      if (mutatingJobKinds.has(kind) && busy !== undefined) throw new PgpilotError('State', `a backup job is already running (id ${busy.id})`);
      const job: JobInfo = { id: `job-${this.jobList.length + 1}`, kind, options, origin: 'api', state: 'running', startedAt: new Date(fixtureNow).toISOString() };
      this.jobList.unshift(job);
      return job;
    },
    jobs() {
      return this.jobList;
    },
    job(id) {
      return this.jobList.find((j) => j.id === id);
    },
    backups() {
      return Promise.resolve(this.listing);
    },
    dumps: () => Promise.resolve({ dumps: [] }),
    archiveStatus() {
      return Promise.resolve(this.archive);
    },
    backupMetrics() {
      return Promise.resolve(this.metrics);
    },
  };
}

export const testToken = 'test-token';

/** The API server on a port the OS picks, with `testToken` and no logs. */
export function startTestServer(backend: MemberBackend): Promise<ApiServer> {
  return startApiServer({ host: '127.0.0.1', port: 0, backend, token: testToken, logger: silentLogger });
}
