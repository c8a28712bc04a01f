// Runs tasks on worker threads (backup copy, restore): one task at a time per worker, results back in the caller.
import { Worker, parentPort, workerData } from 'node:worker_threads';
import { PgpilotError, errorMessage, type ErrorCodeName } from '../base/errors.js';

type ToWorker<T> = { task: T; id: number } | { finish: true };
type FromWorker<R> = { ready: true } | { id: number; result: R } | { id: number; error: WireError } | { final: unknown } | { fatal: WireError };
interface WireError {
  message: string;
  code?: ErrorCodeName;
  hint?: string;
}

function toWire(e: unknown): WireError {
  if (e instanceof PgpilotError) return { message: e.message, code: e.code, ...(e.hint === undefined ? {} : { hint: e.hint }) };
  return { message: e instanceof Error ? (e.stack ?? e.message) : errorMessage(e) };
}

function fromWire(w: WireError): Error {
  return w.code === undefined ? new Error(w.message) : new PgpilotError(w.code, w.message, w.hint === undefined ? {} : { hint: w.hint });
}

export interface PoolSpec {
  script: URL;
  /** What each worker starts from, by worker index. */
  workerData: (index: number) => unknown;
  jobs: number;
}

export interface PoolOptions<T, R> extends PoolSpec {
  tasks: readonly T[];
  onResult: (result: R, task: T) => void;
}

/** Runs every task; the first failure stops dispatching and rejects. Resolves with each worker's final value. */
export function runPool<T, R>(opts: PoolOptions<T, R>): Promise<unknown[]> {
  return new WorkerPool<T, R>({ ...opts, jobs: Math.min(opts.jobs, opts.tasks.length || 1) }).run(opts.tasks, opts.onResult);
}

interface Started {
  worker: Worker;
  /** Settles when the worker is ready for tasks, or failed before. */
  ready: Promise<void>;
  /** The messages after `ready`; set once the tasks are handed out. */
  onMessage: (m: FromWorker<unknown>) => void;
}

/**
 * Worker threads started before their tasks are known: they load their modules while the caller works out what to
 * give them. `run` once, or `stop` to end them unused.
 */
export class WorkerPool<T, R> {
  private readonly started: Started[];
  private used = false;

  constructor(spec: PoolSpec) {
    this.started = Array.from({ length: Math.max(1, spec.jobs) }, (_, index) => {
      const worker = new Worker(spec.script, { workerData: spec.workerData(index) });
      let settle: { resolve: () => void; reject: (e: Error) => void } = { resolve: () => undefined, reject: () => undefined };
      const ready = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
      // Not awaited until run(): a worker failing meanwhile is reported there, not as an unhandled rejection.
      ready.catch(() => undefined);
      const s: Started = { worker, ready, onMessage: () => undefined };
      worker.on('message', (m: FromWorker<unknown>) => {
        if ('ready' in m) settle.resolve();
        else if ('fatal' in m) settle.reject(fromWire(m.fatal));
        s.onMessage(m);
      });
      worker.on('error', (e) => settle.reject(e));
      worker.on('exit', (code) => settle.reject(new Error(`worker thread exited with code ${code}`)));
      return s;
    });
  }

  /** Ends workers that were never given tasks. */
  async stop(): Promise<void> {
    if (this.used) return;
    this.used = true;
    await Promise.all(this.started.map((s) => s.worker.terminate()));
  }

  /** Runs every task; the first failure stops dispatching and rejects. Resolves with each worker's final value. */
  run(tasks: readonly T[], onResult: (result: R, task: T) => void): Promise<unknown[]> {
    if (this.used) throw new Error('a worker pool runs once');
    this.used = true;
    let next = 0;
    let failed: Error | undefined;
    const finals: unknown[] = [];
    const runOne = (s: Started): Promise<void> =>
      new Promise((resolve, reject) => {
        const { worker } = s;
        const inFlight = new Map<number, T>();
        let finished = false;
        const dispatch = (): void => {
          if (failed !== undefined || next >= tasks.length) {
            worker.postMessage({ finish: true } satisfies ToWorker<T>);
            return;
          }
          const id = next++;
          const task = tasks[id] as T;
          inFlight.set(id, task);
          worker.postMessage({ task, id } satisfies ToWorker<T>);
        };
        const fail = (e: Error): void => {
          failed ??= e;
          void worker.terminate();
          reject(e);
        };
        s.onMessage = (m: FromWorker<unknown>): void => {
          // Ready is `s.ready`.
          if ('ready' in m) return;
          if ('final' in m) {
            finals.push(m.final);
            finished = true;
            void worker.terminate().then(() => resolve());
            return;
          }
          if ('fatal' in m) return fail(fromWire(m.fatal));
          const task = inFlight.get(m.id) as T;
          inFlight.delete(m.id);
          if ('error' in m) return fail(fromWire(m.error));
          try {
            onResult(m.result as R, task);
          } catch (e) {
            return fail(e as Error);
          }
          dispatch();
        };
        worker.on('error', (e) => fail(e));
        worker.on('exit', (code) => {
          if (code !== 0 && !finished && failed === undefined) fail(new Error(`worker thread exited with code ${code}`));
        });
        s.ready.then(dispatch, fail);
      });
    return Promise.all(this.started.map(runOne)).then(
      () => finals,
      async (e: unknown) => {
        // The others stop too, before the caller cleans up after the failure.
        await Promise.all(this.started.map((s) => s.worker.terminate()));
        throw failed ?? e;
      },
    );
  }
}

/** The worker's side: set up from workerData, handle tasks one by one, then finish (flush) and report. */
export function serveWorker<D, T, R>(setup: (data: D) => Promise<{ handle: (task: T) => Promise<R>; finish: () => Promise<unknown> }>): void {
  const port = parentPort;
  if (port === null) throw new Error('serveWorker runs only in a worker thread');
  setup(workerData as D).then(
    ({ handle, finish }) => {
      port.on('message', (m: ToWorker<T>) => {
        if ('finish' in m) {
          finish().then(
            (final) => port.postMessage({ final }),
            (e: unknown) => port.postMessage({ fatal: toWire(e) }),
          );
          return;
        }
        handle(m.task).then(
          (result) => port.postMessage({ id: m.id, result }),
          (e: unknown) => port.postMessage({ id: m.id, error: toWire(e) }),
        );
      });
      port.postMessage({ ready: true });
    },
    (e: unknown) => port.postMessage({ fatal: toWire(e) }),
  );
}
