// Waiting helpers: sleep with abort, and polling a condition until a deadline.
import { PgpilotError, errorMessage } from './errors.js';

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Polls `check` every `intervalMs` until it returns a value other than undefined/false, or throws a Timeout error
 * naming `what` after `timeoutMs`. Errors thrown by `check` count as "not yet" and the last one is reported.
 */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  options: { timeoutMs: number; intervalMs?: number; hint?: string },
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() >= deadline) {
      const why = last === undefined ? '' : `: last error: ${errorMessage(last)}`;
      throw new PgpilotError('Timeout', `timed out after ${options.timeoutMs} ms waiting for ${what}${why}`, {
        ...(options.hint === undefined ? {} : { hint: options.hint }),
      });
    }
    await sleep(options.intervalMs ?? 200);
  }
}
