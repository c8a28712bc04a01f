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

export interface PoolOptions<T, R> {
  script: URL;
  /** What each worker starts from, by worker index. */
  workerData: (index: number) => unknown;
  jobs: number;
  tasks: readonly T[];
  onResult: (result: R, task: T) => void;
}

/** Runs every task; the first failure stops dispatching and rejects. Resolves with each worker's final value. */
export function runPool<T, R>(opts: PoolOptions<T, R>): Promise<unknown[]> {
  const jobs = Math.max(1, Math.min(opts.jobs, opts.tasks.length || 1));
  let next = 0;
  let failed: Error | undefined;
  const finals: unknown[] = [];
  const runOne = (_: unknown, index: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const worker = new Worker(opts.script, { workerData: opts.workerData(index) });
      const inFlight = new Map<number, T>();
      let finished = false;
      const dispatch = (): void => {
        if (failed !== undefined || next >= opts.tasks.length) {
          worker.postMessage({ finish: true } satisfies ToWorker<T>);
          return;
        }
        const id = next++;
        const task = opts.tasks[id] as T;
        inFlight.set(id, task);
        worker.postMessage({ task, id } satisfies ToWorker<T>);
      };
      const fail = (e: Error): void => {
        failed ??= e;
        void worker.terminate();
        reject(e);
      };
      worker.on('message', (m: FromWorker<R>) => {
        if ('ready' in m) return dispatch();
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
          opts.onResult(m.result, task);
        } catch (e) {
          return fail(e as Error);
        }
        dispatch();
      });
      worker.on('error', (e) => fail(e));
      worker.on('exit', (code) => {
        if (code !== 0 && !finished && failed === undefined) fail(new Error(`worker thread exited with code ${code}`));
      });
    });
  return Promise.all(Array.from({ length: jobs }, runOne)).then(
    () => finals,
    (e: unknown) => {
      throw failed ?? e;
    },
  );
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
