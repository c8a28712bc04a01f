// Typed client of a member's REST API, for the CLI and the web UI: one method per endpoint, errors from the catalog.
import { PgpilotError, errorMessage } from '../base/errors.js';
import type { ClusterDocument } from '../api/cluster-json.js';
import type { ArchiveDocument, BackupListing, JobInfo, JobKind, JobOptions } from '../api/jobs.js';
import type { PatroniDocument } from '../api/patroni-json.js';
import type { DynamicConfig, HistoryEntry } from '../model/cluster.js';

export interface ApiClientOptions {
  /** The member's API, e.g. http://127.0.0.1:8008 */
  baseUrl: string;
  /** Needed by the mutating calls (patchConfig, restart, reload, startJob). */
  token?: string;
  /** Per request; 10 s by default. */
  timeoutMs?: number;
}

export interface ApiClient {
  patroni(): Promise<PatroniDocument>;
  cluster(): Promise<ClusterDocument>;
  history(): Promise<HistoryEntry[]>;
  config(): Promise<DynamicConfig>;
  /** JSON merge patch of the dynamic config (null removes a key); returns the config as it now is. */
  patchConfig(patch: Record<string, unknown>): Promise<DynamicConfig>;
  restart(): Promise<void>;
  reload(): Promise<void>;
  /** POST /switchover (Patroni's body); resolves with the agent's plain-text answer when it is 200 or 202. */
  switchover(body: { leader: string; candidate?: string; scheduled_at?: string }): Promise<string>;
  /** POST /failover to a candidate. */
  failover(body: { candidate: string }): Promise<string>;
  /** The status code of a health endpoint such as /primary or /replica?lag=1MB (200 or 503); never throws on 503. */
  health(path: string): Promise<number>;
  /** POST /jobs: starts a job (backup, verify, expire, dump only on the leader); resolves once it started. */
  startJob(kind: JobKind, options?: JobOptions): Promise<JobInfo>;
  /** One recent job of this member (GET /jobs?id=ID). */
  job(id: string): Promise<JobInfo>;
  /** The member's recent jobs, newest first. */
  jobs(): Promise<JobInfo[]>;
  /** The backups of every repository (the member runs a `list` job: waits up to a minute). */
  backups(): Promise<BackupListing>;
  /** The logical dumps (a `dumps` job's result, as the job reports it). */
  dumps(): Promise<unknown>;
  /** This member's WAL archiver status, with the seconds since it last archived. */
  archiveStatus(): Promise<ArchiveDocument>;
}

const defaultTimeoutMs = 10_000;
/** GET /backups and /dumps wait for a job on the member (up to 60 s there): wait a little longer than that. */
const listingTimeoutMs = 65_000;

export function apiClient(options: ApiClientOptions): ApiClient {
  const base = options.baseUrl.replace(/\/+$/, '');
  const timeoutMs = options.timeoutMs ?? defaultTimeoutMs;

  const send = async (method: string, path: string, body?: unknown, waitMs = timeoutMs): Promise<Response> => {
    const url = base + path;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (options.token !== undefined) headers['authorization'] = `Bearer ${options.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    try {
      return await fetch(url, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(waitMs),
      });
    } catch (e) {
      throw unreachable(method, url, e, waitMs);
    }
  };

  /** A call whose reply must be 2xx; returns the parsed JSON body. */
  const call = async <T>(method: string, path: string, body?: unknown, waitMs?: number): Promise<T> => {
    const res = await send(method, path, body, waitMs);
    const text = await res.text();
    if (!res.ok) throw failed(method, res, text, options.token !== undefined);
    try {
      return JSON.parse(text) as T;
    } catch (e) {
      throw new PgpilotError('Api', `${method} ${res.url} answered with invalid JSON: ${errorMessage(e)}`);
    }
  };

  /** A call answered in plain text (switchover, failover), 2xx or an error carrying the text. */
  const callText = async (method: string, path: string, body: unknown): Promise<string> => {
    const res = await send(method, path, body);
    const text = await res.text();
    if (!res.ok) throw failed(method, res, text, options.token !== undefined);
    return text;
  };

  return {
    patroni: () => call<PatroniDocument>('GET', '/patroni'),
    cluster: () => call<ClusterDocument>('GET', '/cluster'),
    history: () => call<HistoryEntry[]>('GET', '/history'),
    config: () => call<DynamicConfig>('GET', '/config'),
    patchConfig: (patch) => call<DynamicConfig>('PATCH', '/config', patch),
    restart: async () => void (await call<unknown>('POST', '/restart', {})),
    reload: async () => void (await call<unknown>('POST', '/reload', {})),
    switchover: (body) => callText('POST', '/switchover', body),
    failover: (body) => callText('POST', '/failover', body),
    health: async (path) => {
      const res = await send('GET', path);
      await res.arrayBuffer();
      return res.status;
    },
    startJob: (kind, options = {}) => call<JobInfo>('POST', '/jobs', { kind, options }),
    job: (id) => call<JobInfo>('GET', `/jobs?id=${encodeURIComponent(id)}`),
    jobs: () => call<JobInfo[]>('GET', '/jobs'),
    backups: () => call<BackupListing>('GET', '/backups', undefined, Math.max(timeoutMs, listingTimeoutMs)),
    dumps: () => call<unknown>('GET', '/dumps', undefined, Math.max(timeoutMs, listingTimeoutMs)),
    archiveStatus: () => call<ArchiveDocument>('GET', '/archive'),
  };
}

function unreachable(method: string, url: string, e: unknown, timeoutMs: number): PgpilotError {
  const reason = e instanceof Error && e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : causeMessage(e);
  return new PgpilotError('Api', `${method} ${url} failed: ${reason}`, {
    hint: 'check that the member agent runs and that its REST API address is right',
    cause: e,
  });
}

/** fetch() hides the network error (ECONNREFUSED, ...) in `cause`. */
function causeMessage(e: unknown): string {
  const cause = e instanceof Error ? e.cause : undefined;
  return cause === undefined ? errorMessage(e) : `${errorMessage(e)} (${errorMessage(cause)})`;
}

function failed(method: string, res: Response, text: string, hadToken: boolean): PgpilotError {
  const message = `${method} ${res.url} answered ${res.status}: ${serverError(text)}`;
  if (res.status !== 401) return new PgpilotError('Api', message);
  const hint = hadToken
    ? "the token differs from the member's: use the content of the agent's api.tokenFile"
    : "pass the API token: the content of the agent's api.tokenFile (mode 0600)";
  return new PgpilotError('Auth', message, { hint });
}

/** The `error` field of the server's JSON error body, else the raw text. */
function serverError(text: string): string {
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null && 'error' in parsed && typeof parsed.error === 'string') {
      return parsed.error;
    }
  } catch {
    // not JSON: the text itself says it
  }
  return text.trim() === '' ? '(empty body)' : text.trim();
}
