// KvStore on etcd 3.4 through its gRPC-JSON gateway over plain HTTP (node:http with keep-alive, no grpc dependency).
import http from 'node:http';
import { PgpilotError, assert, errorMessage } from '../../base/errors.js';
import { silentLogger, type Logger } from '../../base/log.js';
import { sleep } from '../../base/wait.js';
import type { DeleteOptions, KvEntry, KvStore, PutOptions, WatchEvent } from '../kv.js';

export interface EtcdKvOptions {
  /** Client URLs (`http://host:port`), tried in order; the one that answered last is tried first. */
  endpoints: string[];
  /** Deadline of one HTTP request to one endpoint (default 2000 ms). */
  requestTimeoutMs?: number;
  logger?: Logger;
}

// The gateway's JSON: int64s are strings, bytes are base64, and fields at their zero value (0, false, "", [])
// are left out, so every field is optional.
interface RawKv { key?: string; value?: string; create_revision?: string; mod_revision?: string; lease?: string }
interface RangeResponse { header?: { revision?: string }; kvs?: RawKv[] }
interface TxnResponse { succeeded?: boolean; responses?: { response_delete_range?: DeleteRangeResponse }[] }
interface DeleteRangeResponse { deleted?: string }
interface LeaseGrantResponse { ID?: string; error?: string }
interface KeepAliveResponse { TTL?: string }
interface WatchResponse {
  created?: boolean;
  canceled?: boolean;
  cancel_reason?: string;
  compact_revision?: string;
  events?: { type?: 'PUT' | 'DELETE'; kv?: RawKv }[];
}
/** The body of a failed call: a gRPC status code and message (`error` repeats `message` in etcd 3.4). */
interface GatewayError { code?: number; message?: string; error?: string }
/** One message of a streaming endpoint (lease/keepalive, watch). */
interface StreamMessage<T> { result?: T; error?: GatewayError }

type Conditions = Pick<PutOptions, 'ifAbsent' | 'ifValue' | 'ifModRevision'>;
type KeyRange = { key: string; range_end?: string };

const grpcNotFound = 5;
const httpUnavailable = 503;
const watchBackoffMs = { first: 100, max: 2000 };

/** No connection to the endpoint was made: the request cannot have had an effect, so the next endpoint may take it. */
class Unreached extends Error {}

/** etcd answered with an error status. */
class Rejected extends Error {
  constructor(readonly status: number, readonly grpcCode: number | undefined, message: string) {
    super(message);
  }
}

export function etcdKv(options: EtcdKvOptions): KvStore {
  const timeoutMs = options.requestTimeoutMs ?? 2000;
  const logger = options.logger ?? silentLogger;
  const ring = endpointRing(options.endpoints);
  const agent = new http.Agent({ keepAlive: true });
  const closed = new AbortController();

  function failure(operation: string, endpoint: string, e: unknown): PgpilotError {
    return new PgpilotError('Dcs', `etcd ${operation} failed at ${endpoint}: ${errorMessage(e)}`, {
      hint: e instanceof Rejected ? 'etcd refused the request; its log may say more' : reachHint(options.endpoints),
      cause: e,
    });
  }

  /**
   * POSTs `body` to `path`: on the preferred endpoint, then on the next ones while the connection fails. `decode`
   * reads the answer (a streaming endpoint's answer is one `{"result": ...}` message).
   */
  async function call<T>(
    path: string,
    body: unknown,
    operation: string,
    decode: (text: string) => T = parseJson<T>,
  ): Promise<T> {
    const unreached: string[] = [];
    for (const endpoint of ring.inOrder()) {
      try {
        const answer = decode(await exchange(`${endpoint}${path}`, body, agent, timeoutMs));
        ring.prefer(endpoint);
        return answer;
      } catch (e) {
        if (e instanceof Unreached) {
          logger.warn('etcd endpoint unreachable, trying the next one', { endpoint, operation, error: e.message });
          unreached.push(`${endpoint} (${e.message})`);
          continue;
        }
        // It answered, or may have: the call is not repeated elsewhere, but the next one starts elsewhere if it hung.
        if (e instanceof Rejected && e.status !== httpUnavailable) ring.prefer(endpoint);
        else ring.passOver(endpoint);
        throw failure(operation, endpoint, e);
      }
    }
    throw new PgpilotError('Dcs', `etcd ${operation} failed: no endpoint reachable: ${unreached.join(', ')}`, {
      hint: reachHint(options.endpoints),
    });
  }

  /** A put or delete: a plain request without conditions, else one txn comparing every condition. */
  async function write(
    plainPath: string,
    txnOp: 'request_put' | 'request_delete_range',
    request: KeyRange,
    conditions: Conditions,
    operation: string,
  ): Promise<{ succeeded: boolean; deleted: number }> {
    const compare = compares(request, conditions);
    if (compare.length === 0) {
      // A put's answer has no `deleted`: it reads as 0.
      const response = await call<DeleteRangeResponse>(plainPath, request, operation);
      return { succeeded: true, deleted: int(response.deleted) };
    }
    const txn = await call<TxnResponse>('/v3/kv/txn', { compare, success: [{ [txnOp]: request }] }, operation);
    return { succeeded: txn.succeeded === true, deleted: int(txn.responses?.[0]?.response_delete_range?.deleted) };
  }

  async function put(key: string, value: string, putOptions: PutOptions = {}): Promise<boolean> {
    const lease = putOptions.lease === undefined ? {} : { lease: putOptions.lease };
    const request = { key: b64(key), value: b64(value), ...lease };
    return (await write('/v3/kv/put', 'request_put', request, putOptions, `put ${key}`)).succeeded;
  }

  async function remove(key: string, deleteOptions: DeleteOptions = {}): Promise<boolean> {
    const request = deleteOptions.prefix === true ? prefixRange(key) : { key: b64(key) };
    const response = await write('/v3/kv/deleterange', 'request_delete_range', request, deleteOptions, `delete ${key}`);
    return response.succeeded && response.deleted > 0;
  }

  async function grantLease(ttlSeconds: number): Promise<string> {
    const response = await call<LeaseGrantResponse>('/v3/lease/grant', { TTL: ttlSeconds }, 'grantLease');
    if (response.ID === undefined || (response.error ?? '') !== '') {
      throw new PgpilotError('Dcs', `etcd grantLease of ${ttlSeconds} s failed: ${response.error ?? 'no lease id'}`, {
        hint: 'etcd refused the request; its log may say more',
      });
    }
    return response.ID;
  }

  async function revokeLease(lease: string): Promise<void> {
    try {
      await call('/v3/lease/revoke', { ID: lease }, `revokeLease ${lease}`);
    } catch (e) {
      // A lease etcd does not know has expired or was revoked already: its keys are gone, as asked.
      const notFound = e instanceof PgpilotError && e.cause instanceof Rejected && e.cause.grpcCode === grpcNotFound;
      if (!notFound) throw e;
    }
  }

  /** Follows the watch stream, reconnecting from the revision after the last event seen, until `signal` aborts. */
  async function follow(
    prefix: string,
    fromRevision: number,
    onEvent: (event: WatchEvent) => void,
    signal: AbortSignal,
    onError?: (error: unknown) => void,
  ): Promise<void> {
    let next = fromRevision + 1;
    let backoff = watchBackoffMs.first;
    const onMessage = (response: WatchResponse): void => {
      backoff = watchBackoffMs.first;
      if (response.canceled === true) {
        const compacted = int(response.compact_revision);
        if (compacted === 0) throw new Error(`watch canceled: ${response.cancel_reason ?? 'no reason given'}`);
        // Compacted history cannot be replayed: resume at the oldest revision left and say what was lost.
        next = Math.max(next, compacted);
        throw new PgpilotError('Dcs', `etcd watch ${prefix}: history before revision ${compacted} was compacted`, {
          hint: `the events before it are lost: read the keys again (range); the watch goes on from ${compacted}`,
        });
      }
      for (const event of response.events ?? []) {
        const watchEvent = toWatchEvent(event);
        next = (watchEvent.type === 'put' ? watchEvent.entry.modRevision : watchEvent.modRevision) + 1;
        onEvent(watchEvent);
      }
    };
    while (!signal.aborted) {
      const endpoint = ring.inOrder()[0] ?? '';
      const request = { create_request: { ...prefixRange(prefix), start_revision: String(next) } };
      try {
        await watchStream(`${endpoint}/v3/watch`, request, timeoutMs, signal, onMessage);
        if (!signal.aborted) throw new Error('watch stream ended');
      } catch (e) {
        if (signal.aborted) return;
        if (e instanceof Unreached) ring.passOver(endpoint);
        logger.warn('etcd watch failed, reconnecting', { endpoint, prefix, next, error: errorMessage(e) });
        onError?.(e instanceof PgpilotError ? e : failure(`watch ${prefix}`, endpoint, e));
      }
      await sleep(backoff, signal);
      backoff = Math.min(backoff * 2, watchBackoffMs.max);
    }
  }

  return {
    async range(prefix: string) {
      const response = await call<RangeResponse>('/v3/kv/range', prefixRange(prefix), `range ${prefix}`);
      return { entries: (response.kvs ?? []).map(toEntry), revision: int(response.header?.revision) };
    },
    async get(key: string) {
      const response = await call<RangeResponse>('/v3/kv/range', { key: b64(key) }, `get ${key}`);
      const found = response.kvs?.[0];
      return found === undefined ? undefined : toEntry(found);
    },
    put,
    delete: remove,
    grantLease,
    async keepAlive(lease: string) {
      const decode = (text: string): KeepAliveResponse => streamResult(parseJson<StreamMessage<KeepAliveResponse>>(text));
      return int((await call('/v3/lease/keepalive', { ID: lease }, `keepAlive ${lease}`, decode)).TTL);
    },
    revokeLease,
    watch(prefix, fromRevision, onEvent, signal, onError) {
      void follow(prefix, fromRevision, onEvent, AbortSignal.any([signal, closed.signal]), onError);
    },
    close() {
      closed.abort();
      agent.destroy();
      return Promise.resolve();
    },
  };
}

/** The endpoints in the order to try them: the preferred one first, then the rest in the configured order. */
function endpointRing(endpoints: string[]): {
  inOrder(): string[];
  prefer(endpoint: string): void;
  passOver(endpoint: string): void;
} {
  if (endpoints.length === 0 || endpoints.some((e) => !/^http:\/\/[^/]+\/?$/.test(e))) {
    throw new PgpilotError('Config', `etcd endpoints must be a non-empty list of http://host:port: ${endpoints.join(', ')}`, {
      hint: 'give client URLs such as http://127.0.0.1:2379 (TLS is not supported)',
    });
  }
  const urls = endpoints.map((e) => e.replace(/\/$/, ''));
  let first = 0;
  return {
    inOrder: () => [...urls.slice(first), ...urls.slice(0, first)],
    prefer: (endpoint) => {
      first = urls.indexOf(endpoint);
    },
    passOver: (endpoint) => {
      first = (urls.indexOf(endpoint) + 1) % urls.length;
    },
  };
}

function reachHint(endpoints: string[]): string {
  return `check that etcd runs and answers: etcdctl --endpoints=${endpoints.join(',')} endpoint health`;
}

/** The compares of a txn that writes only when every condition holds (over every key of a range). */
function compares(target: KeyRange, conditions: Conditions): object[] {
  const range = { key: target.key, ...(target.range_end === undefined ? {} : { range_end: target.range_end }) };
  const list: object[] = [];
  if (conditions.ifAbsent === true) list.push({ ...range, target: 'CREATE', result: 'EQUAL', create_revision: '0' });
  if (conditions.ifValue !== undefined) {
    list.push({ ...range, target: 'VALUE', result: 'EQUAL', value: b64(conditions.ifValue) });
  }
  if (conditions.ifModRevision !== undefined) {
    list.push({ ...range, target: 'MOD', result: 'EQUAL', mod_revision: String(conditions.ifModRevision) });
  }
  return list;
}

/** The key range of every key that starts with `prefix`: range_end is the prefix with its last byte plus one. */
function prefixRange(prefix: string): Required<KeyRange> {
  const bytes = Buffer.from(prefix, 'utf8');
  const last = bytes.length - 1;
  const zero = Buffer.from([0]).toString('base64');
  // An empty prefix: from "\0" to the end ("\0" as range_end means "no upper bound").
  if (last < 0) return { key: zero, range_end: zero };
  const end = Buffer.from(bytes);
  // UTF-8 never contains 0xff, so the last byte can always be incremented.
  assert(end[last] !== undefined && end[last] < 0xff, `UTF-8 key prefix ends in 0xff: ${prefix}`);
  end[last] += 1;
  return { key: bytes.toString('base64'), range_end: end.toString('base64') };
}

function b64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

function unb64(text: string | undefined): string {
  return Buffer.from(text ?? '', 'base64').toString('utf8');
}

function int(text: string | undefined): number {
  return Number(text ?? 0);
}

function toEntry(kv: RawKv): KvEntry {
  return {
    key: unb64(kv.key),
    value: unb64(kv.value),
    modRevision: int(kv.mod_revision),
    createRevision: int(kv.create_revision),
    lease: kv.lease ?? '0',
  };
}

function toWatchEvent(event: { type?: 'PUT' | 'DELETE'; kv?: RawKv }): WatchEvent {
  const kv = event.kv ?? {};
  return event.type === 'DELETE'
    ? { type: 'delete', key: unb64(kv.key), modRevision: int(kv.mod_revision) }
    : { type: 'put', entry: toEntry(kv) };
}

function parseJson<T>(text: string): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new Error(`unexpected answer (not JSON): ${text.slice(0, 200)}`);
  }
}

function streamResult<T>(message: StreamMessage<T>): T {
  if (message.error !== undefined) throw rejection(200, message.error);
  if (message.result === undefined) throw new Error(`unexpected stream message: ${JSON.stringify(message)}`);
  return message.result;
}

function rejection(status: number, body: GatewayError): Rejected {
  const text = body.message ?? body.error ?? 'no message';
  return new Rejected(status, body.code, `${text} (HTTP ${status}, gRPC code ${body.code ?? 'none'})`);
}

/** Starts a JSON POST; the response promise rejects with Unreached when no connection was made. */
function open(
  url: string,
  body: unknown,
  agent: http.Agent | false,
): { request: http.ClientRequest; response: Promise<http.IncomingMessage> } {
  const payload = JSON.stringify(body);
  const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) };
  const request = http.request(url, { method: 'POST', agent, headers });
  let connected = false;
  request.on('socket', (socket) => {
    if (!socket.connecting) connected = true;
    else {
      socket.once('connect', () => {
        connected = true;
      });
    }
  });
  const response = new Promise<http.IncomingMessage>((resolve, reject) => {
    request.once('response', resolve);
    request.on('error', (e) => reject(connected ? e : new Unreached(e.message, { cause: e })));
    request.once('close', () => reject(new Error('connection closed before an answer')));
  });
  request.end(payload);
  return { request, response };
}

/** One request and its whole answer within `timeoutMs`; an error status becomes a Rejected. */
async function exchange(url: string, body: unknown, agent: http.Agent, timeoutMs: number): Promise<string> {
  const { request, response } = open(url, body, agent);
  let answer: http.IncomingMessage | undefined;
  const timer = setTimeout(() => {
    const e = new Error(`no answer within ${timeoutMs} ms`);
    answer?.destroy(e);
    request.destroy(e);
  }, timeoutMs);
  try {
    answer = await response;
    await checkStatus(answer);
    return await readText(answer);
  } finally {
    clearTimeout(timer);
  }
}

/** Throws a Rejected with etcd's message unless the status is 200. */
async function checkStatus(answer: http.IncomingMessage): Promise<void> {
  if (answer.statusCode === 200) return;
  const text = await readText(answer);
  let body: GatewayError;
  try {
    body = JSON.parse(text) as GatewayError;
  } catch {
    body = { message: text.slice(0, 200) };
  }
  throw rejection(answer.statusCode ?? 0, body);
}

async function readText(stream: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Runs one watch stream until the server ends it, it fails or `signal` aborts (which destroys the socket). The
 * stream must confirm the watch within `timeoutMs`; each newline-separated JSON message goes to `onMessage`.
 */
async function watchStream(
  url: string,
  body: unknown,
  timeoutMs: number,
  signal: AbortSignal,
  onMessage: (response: WatchResponse) => void,
): Promise<void> {
  const { request, response } = open(url, body, false);
  const abort = (): void => void request.destroy();
  signal.addEventListener('abort', abort, { once: true });
  const timer = setTimeout(() => request.destroy(new Error(`watch not confirmed within ${timeoutMs} ms`)), timeoutMs);
  try {
    const answer = await response;
    await checkStatus(answer);
    for await (const line of lines(answer)) {
      clearTimeout(timer);
      onMessage(streamResult(parseJson<StreamMessage<WatchResponse>>(line)));
    }
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', abort);
    request.destroy();
  }
}

async function* lines(stream: http.IncomingMessage): AsyncGenerator<string> {
  let buffered = '';
  stream.setEncoding('utf8');
  for await (const chunk of stream) {
    const parts = (buffered + (chunk as string)).split('\n');
    buffered = parts.pop() ?? '';
    yield* parts.filter((part) => part.trim() !== '');
  }
}
