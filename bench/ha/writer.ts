// The one writer of the HA benchmark, for both systems: inserts rows as fast as it can and records every acknowledged
// row with its time. It runs in a worker thread so that the scenario driver never delays it.
//
// direct: after any error it connects to every member at once and keeps the first that accepts writes.
// pooled: keeps ONE connection (to the pooler) for as long as the server keeps it; a failed insert is counted and the
// next insert goes through the same connection; only a broken connection is opened again (and counted).
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import pg from 'pg';

export interface WriterTarget {
  host: string;
  port: number;
  user: string;
  password?: string;
  database: string;
}

export interface WriterOptions {
  mode: 'direct' | 'pooled';
  targets: WriterTarget[];
  /** Table with an `id bigint primary key` column; created if missing. */
  table: string;
  connectTimeoutMs: number;
  /** Client-side limit on one insert; a timed-out connection is closed (it may be stuck). */
  queryTimeoutMs: number;
}

export interface WriterError {
  at: number;
  message: string;
}

export interface WriterLog {
  /** Acknowledged ids, increasing (an id is never retried, so an unacknowledged commit cannot collide). */
  ids: Float64Array;
  /** Date.now() when each id was acknowledged. */
  times: Float64Array;
  /** Date.now() of every insert that failed (an error, or a connection that broke under it). */
  failTimes: Float64Array;
  /** Date.now() of every connection opened after the first one. */
  reconnectTimes: Float64Array;
  /** The first 200 errors, then one per distinct message. */
  errors: WriterError[];
  startedAt: number;
  stoppedAt: number;
}

export interface WriterProgress {
  acked: number;
  lastAckAt: number;
  failed: number;
}

export interface Writer {
  /** The latest progress the worker reported (every 100 ms). */
  progress(): WriterProgress;
  /** Resolves once an insert is acknowledged after `since` (Date.now() ms); rejects after `timeoutMs`. */
  ackedAfter(since: number, timeoutMs: number): Promise<number>;
  stop(): Promise<WriterLog>;
}

type FromWorker = { type: 'progress'; progress: WriterProgress } | { type: 'done'; log: WriterLog } | { type: 'fatal'; message: string };

/** Starts the writer in a worker thread; resolves once the table exists and the first row is acknowledged. */
export async function startWriter(options: WriterOptions, firstAckTimeoutMs = 60_000): Promise<Writer> {
  const worker = new Worker(new URL(import.meta.url), { workerData: { benchWriter: options } });
  let progress: WriterProgress = { acked: 0, lastAckAt: 0, failed: 0 };
  let fatal: string | undefined;
  let onDone: ((log: WriterLog) => void) | undefined;
  let onExit: ((why: string) => void) | undefined;
  worker.on('message', (m: FromWorker) => {
    if (m.type === 'progress') progress = m.progress;
    else if (m.type === 'done') onDone?.(m.log);
    else fatal = m.message;
  });
  worker.on('error', (e) => { fatal = e.message; onExit?.(e.message); });
  worker.on('exit', (code) => onExit?.(`writer worker exited with code ${code}${fatal === undefined ? '' : `: ${fatal}`}`));
  const writer: Writer = {
    progress: () => progress,
    async ackedAfter(since, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (progress.lastAckAt <= since) {
        if (fatal !== undefined) throw new Error(`writer failed: ${fatal}`);
        if (Date.now() > deadline) throw new Error(`no write was acknowledged within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 20));
      }
      return progress.lastAckAt;
    },
    stop() {
      return new Promise<WriterLog>((resolve, reject) => {
        onDone = (log) => { resolve(log); void worker.terminate(); };
        onExit = (why) => reject(new Error(why));
        worker.postMessage('stop');
      });
    },
  };
  try {
    await writer.ackedAfter(0, firstAckTimeoutMs);
  } catch (e) {
    await worker.terminate();
    throw e;
  }
  return writer;
}

// ---- the worker side ----

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function client(t: WriterTarget, o: WriterOptions): pg.Client {
  const c = new pg.Client({ ...t, connectionTimeoutMillis: o.connectTimeoutMs, query_timeout: o.queryTimeoutMs, application_name: 'bench-writer' });
  c.on('error', () => undefined);
  return c;
}

/** Connects to every target at once; resolves with the first that is not in recovery (the others are closed). */
async function writable(o: WriterOptions): Promise<pg.Client | undefined> {
  const attempts = o.targets.map(async (t) => {
    const c = client(t, o);
    try {
      await c.connect();
      const r = await c.query<{ ro: boolean }>('SELECT pg_is_in_recovery() AS ro');
      if (r.rows[0]?.ro === false) return c;
    } catch {
      // not reachable or not ready: try the others
    }
    await c.end().catch(() => undefined);
    return undefined;
  });
  const winner = await new Promise<pg.Client | undefined>((resolve) => {
    let left = attempts.length;
    for (const a of attempts) void a.then((c) => { if (c !== undefined) resolve(c); else if (--left === 0) resolve(undefined); });
    if (left === 0) resolve(undefined);
  });
  // close every other writable connection (two writable members would be a finding of its own: the first one wins)
  void Promise.all(attempts).then((all) => all.forEach((c) => { if (c !== undefined && c !== winner) void c.end().catch(() => undefined); }));
  return winner;
}

async function runWorker(o: WriterOptions): Promise<void> {
  const port = parentPort;
  if (port === null) return;
  let running = true;
  port.on('message', (m) => { if (m === 'stop') running = false; });
  const startedAt = Date.now();
  let ids: Float64Array<ArrayBuffer> = new Float64Array(1 << 16);
  let times: Float64Array<ArrayBuffer> = new Float64Array(1 << 16);
  let acked = 0;
  let failed = 0;
  let opened = 0;
  const failTimes: number[] = [];
  const reconnectTimes: number[] = [];
  const errors: WriterError[] = [];
  const seen = new Set<string>();
  const recordError = (e: unknown): void => {
    const message = e instanceof Error ? e.message : String(e);
    if (errors.length < 200 || !seen.has(message)) errors.push({ at: Date.now(), message });
    seen.add(message);
  };
  const report = setInterval(() => port.postMessage({ type: 'progress', progress: { acked, lastAckAt: acked > 0 ? (times[acked - 1] ?? 0) : 0, failed } } satisfies FromWorker), 100);

  let c: pg.Client | undefined;
  let broken = false;
  const open = async (): Promise<pg.Client | undefined> => {
    let next: pg.Client | undefined;
    if (o.mode === 'direct') {
      next = await writable(o);
    } else {
      const t = o.targets[0];
      if (t === undefined) throw new Error('pooled writer without a target');
      const p = client(t, o);
      try {
        await p.connect();
        next = p;
      } catch (e) {
        recordError(e);
        await p.end().catch(() => undefined);
      }
    }
    if (next !== undefined) {
      broken = false;
      next.on('error', () => { broken = true; });
      next.on('end', () => { broken = true; });
      if (opened++ > 0) reconnectTimes.push(Date.now());
    }
    return next;
  };

  // the table, through the first connection
  let id = 0;
  while (running && c === undefined) {
    c = await open();
    if (c === undefined) await sleep(20);
  }
  if (c !== undefined) await c.query(`CREATE TABLE IF NOT EXISTS ${o.table} (id bigint PRIMARY KEY, at timestamptz DEFAULT now())`);

  while (running) {
    if (c === undefined || (broken && o.mode === 'pooled')) {
      await c?.end().catch(() => undefined);
      c = await open();
      if (c === undefined) { await sleep(20); continue; }
    }
    const n = ++id;
    try {
      await c.query(`INSERT INTO ${o.table} (id) VALUES ($1)`, [n]);
      if (acked === ids.length) {
        const grow = (a: Float64Array<ArrayBuffer>): Float64Array<ArrayBuffer> => { const b = new Float64Array(a.length * 2); b.set(a); return b; };
        ids = grow(ids);
        times = grow(times);
      }
      ids[acked] = n;
      times[acked] = Date.now();
      acked++;
    } catch (e) {
      failed++;
      failTimes.push(Date.now());
      recordError(e);
      const timedOut = e instanceof Error && /timeout/i.test(e.message);
      if (o.mode === 'direct' || timedOut) {
        await c.end().catch(() => undefined);
        c = undefined;
      }
      await sleep(20);
    }
  }
  clearInterval(report);
  await c?.end().catch(() => undefined);
  const log: WriterLog = {
    ids: ids.slice(0, acked), times: times.slice(0, acked), failTimes: Float64Array.from(failTimes), reconnectTimes: Float64Array.from(reconnectTimes),
    errors, startedAt, stoppedAt: Date.now(),
  };
  port.postMessage({ type: 'done', log } satisfies FromWorker);
}

const data = workerData as { benchWriter?: WriterOptions } | null;
if (!isMainThread && data?.benchWriter !== undefined) {
  runWorker(data.benchWriter).catch((e: unknown) => {
    parentPort?.postMessage({ type: 'fatal', message: e instanceof Error ? e.message : String(e) } satisfies FromWorker);
    process.exit(1);
  });
}
