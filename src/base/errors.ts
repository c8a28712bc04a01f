// The error catalog: every expected failure has a stable code (also the CLI exit code), a message and a hint.

/** Stable error codes. The number is the process exit code; never renumber an existing entry. */
export const ErrorCode = {
  /** Invalid manifest, agent config or command-line arguments. */
  Config: 10,
  /** A command-line usage error (unknown command, missing argument). */
  Usage: 11,
  /** A required external program is missing or failed to run. */
  Program: 12,
  /** The DCS (etcd) could not be reached or answered unexpectedly. */
  Dcs: 20,
  /** A compare-and-set in the DCS lost a race. */
  DcsConflict: 21,
  /** PostgreSQL could not be started, stopped or queried. */
  Postgres: 30,
  /** A cluster or member the command names does not exist. */
  NotFound: 40,
  /** A cluster is in the wrong state for the command (e.g. already running elsewhere). */
  State: 41,
  /** A REST API call failed (network, auth or status). */
  Api: 50,
  /** The API token was missing or wrong. */
  Auth: 51,
  /** Waiting for a condition ran past its deadline. */
  Timeout: 60,
  /** A destructive command was not confirmed. */
  NotConfirmed: 70,
  /** An OS-level failure (file system, process, port). */
  Os: 80,
  /** A connection pooler (pgbouncer) could not be started, reached or controlled. */
  Pooler: 90,
  /** A backup repository is missing, unreadable or not in pgpilot's format. */
  Repo: 100,
  /** Stored data failed its checksum (a corrupt file, page or manifest). */
  Corrupt: 101,
  /** Decryption failed: wrong passphrase or tampered data. */
  Crypto: 102,
  /** The WAL archive refused a segment (same name, different content) or lacks one. */
  Archive: 103,
  /** A backup or restore could not be taken or completed. */
  Backup: 104,
} as const;
export type ErrorCodeName = keyof typeof ErrorCode;

/** An expected failure: what went wrong, on what, and how to fix it. */
export class PgpilotError extends Error {
  override readonly name = 'PgpilotError';
  readonly code: ErrorCodeName;
  readonly hint: string | undefined;

  constructor(code: ErrorCodeName, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.hint = options.hint;
  }

  get exitCode(): number {
    return ErrorCode[this.code];
  }

  /** The message as a user sees it: the text, then a `hint:` line when there is one. */
  format(): string {
    return this.hint === undefined ? this.message : `${this.message}\nhint: ${this.hint}`;
  }
}

/** A bug: an invariant the code relies on did not hold. Never caught to continue. */
export class AssertionFailure extends Error {
  override readonly name = 'AssertionFailure';
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionFailure(message);
}

/** The message of any thrown value, for logs and wrapped errors. */
export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
