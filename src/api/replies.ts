// HTTP replies as data: the JSON and text helpers every route uses, and the error that carries a status code.
import { PgpilotError, type ErrorCodeName } from '../base/errors.js';

export const jsonType = 'application/json';

/** A finished response: the server writes it, dropping the payload for HEAD and OPTIONS. */
export interface Reply {
  status: number;
  contentType: string;
  payload: string;
  headers?: Record<string, string>;
}

export function json(status: number, value: unknown): Reply {
  return { status, contentType: jsonType, payload: JSON.stringify(value) };
}

/** Plain text, as Patroni answers switchover and failover requests (patronictl prints the text). */
export function text(status: number, message: string): Reply {
  return { status, contentType: 'text/plain; charset=utf-8', payload: message };
}

/** Every error reply has the same shape: `{"error": message}`. */
export function failure(status: number, message: string, headers?: Record<string, string>): Reply {
  const reply = json(status, { error: message });
  return headers === undefined ? reply : { ...reply, headers };
}

/** A request the client got wrong (bad JSON, body too large): answered with `status`, not logged as a fault. */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** HTTP status for an expected failure the backend reports; anything missing here is a 500. */
const statusByCode: Partial<Record<ErrorCodeName, number>> = {
  Config: 400,
  NotFound: 404,
  State: 409,
  DcsConflict: 409,
  Dcs: 503,
  Postgres: 503,
  Timeout: 504,
};

export function statusOf(e: unknown): number {
  if (e instanceof HttpError) return e.status;
  if (e instanceof PgpilotError) return statusByCode[e.code] ?? 500;
  return 500;
}
