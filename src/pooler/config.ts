// pgbouncer.ini of one pooler (read-write or read-only), rendered from its settings and its targets (pure).
import { PgpilotError, assert } from '../base/errors.js';

/** The read-write pooler leads to the primary; the read-only one to the healthy replicas. */
export type PoolerName = 'rw' | 'ro';
export type PoolMode = 'session' | 'transaction';

/** A PostgreSQL server a pooler may send connections to. */
export interface PoolerTarget {
  host: string;
  port: number;
  /** Replay lag behind the primary in bytes; the read-only pooler prefers the smallest (unknown counts as largest). */
  lagBytes?: number;
}

export interface PoolerConfig {
  name: PoolerName;
  listenAddr: string;
  listenPort: number;
  /** A private directory (mode 0700, owned by the run-as user) for the unix socket. */
  socketDir: string;
  /** The auth_file of SCRAM verifiers (auth-file.ts). */
  authFile: string;
  pidFile: string;
  /**
   * pgbouncer's own log file. pgbouncer 1.18 in the foreground writes every line to stderr as well, so leave this out
   * when stderr already goes to a log (process.ts does that); a logfile is what survives `-q`, which loses start-up errors.
   */
  logFile?: string;
  poolMode: PoolMode;
  adminUsers: string[];
  /** The client-side database names this pooler serves; each is routed to the target(s) under the same name. */
  databases: string[];
  targets: PoolerTarget[];
  maxClientConn?: number;
  defaultPoolSize?: number;
}

/** Where a pooler's databases point: one port, one or more hosts (pgbouncer uses a host list round robin). */
export interface Destination {
  hosts: string[];
  port: number;
}

/** Settings that make a repoint take effect quickly and make paused clients wait rather than fail. */
const FIXED_SETTINGS: Array<[string, string]> = [
  ['auth_type', 'scram-sha-256'],
  // A released server connection idle longer than this is checked before reuse, so a dead old primary is noticed.
  ['server_check_delay', '1'],
  // After a failed login or connect, retry the (possibly new) target after 1 s rather than the default 15 s.
  ['server_login_retry', '1'],
  ['server_connect_timeout', '5'],
  // Clients held by PAUSE during a switchover wait up to this long instead of failing.
  ['query_wait_timeout', '120'],
  ['ignore_startup_parameters', 'extra_float_digits,options'],
];

const HOST = /^[A-Za-z0-9._:-]+$|^\/[A-Za-z0-9._\/-]+$/;
const PLAIN_DB = /^[A-Za-z0-9_]+$/;
const USER = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/**
 * Where the pooler's databases lead, or undefined when there is no target.
 *
 * rw: the single target (the primary). ro: pgbouncer 1.18 takes a comma-separated host list in one database entry
 * (`host=h1,h2`, new server connections go round robin, tested), but only ONE `port` per entry. So all healthy
 * replicas are listed when they share a port (one member per host: the multi-host deployment); otherwise (several
 * members on one host, as the local runner runs them) it points at one replica only: the least-lagging one, ties
 * broken by host and port, so the same inputs always give the same file. pgbouncer does not skip a dead host in a
 * list: the list must hold healthy replicas only, which is what the caller passes.
 */
export function destination(name: PoolerName, targets: readonly PoolerTarget[]): Destination | undefined {
  for (const t of targets) {
    if (!HOST.test(t.host) || !Number.isInteger(t.port) || t.port < 1 || t.port > 65535) {
      throw new PgpilotError('Pooler', `invalid pooler target ${t.host}:${t.port}`, {
        hint: 'a target is a host name, an IP address or a socket directory, and a port between 1 and 65535',
      });
    }
  }
  const [first] = targets;
  if (first === undefined) return undefined;
  if (name === 'rw') {
    assert(targets.length === 1, `the rw pooler leads to one primary, got ${targets.length} targets`);
    return { hosts: [first.host], port: first.port };
  }
  const sameHostTwice = new Set(targets.map((t) => t.host)).size < targets.length;
  if (!sameHostTwice && targets.every((t) => t.port === first.port)) {
    return { hosts: targets.map((t) => t.host).sort(), port: first.port };
  }
  const best = [...targets].sort(byLagThenAddress)[0] ?? first;
  return { hosts: [best.host], port: best.port };
}

/** The pgbouncer.ini text. The same config always renders the same text, so a caller can compare files. */
export function renderPoolerIni(config: PoolerConfig): string {
  for (const user of config.adminUsers) {
    if (!USER.test(user)) throw new PgpilotError('Pooler', `invalid pooler admin user name "${user}"`, {
      hint: 'use letters, digits, underscores, dots and dashes',
    });
  }
  const keys = [...new Set(config.databases)].sort().map(databaseKey);
  const to = destination(config.name, config.targets);
  const lines = [`; pgbouncer.ini of the ${config.name} pooler, written by pgpilot: edits are overwritten`, '[databases]'];
  if (to === undefined) {
    // pgbouncer 1.18 makes clients of a database whose server cannot be reached wait up to query_wait_timeout;
    // a database left out fails at once with "FATAL: no such database: <name>".
    lines.push(`; no healthy ${config.name === 'rw' ? 'primary' : 'replica'}: clients get "no such database"`);
  } else {
    const connection = `host=${to.hosts.join(',')} port=${to.port}`;
    for (const key of keys) lines.push(`${key} = ${connection}`);
  }
  const settings: Array<[string, string | number | undefined]> = [
    ['listen_addr', config.listenAddr],
    ['listen_port', config.listenPort],
    ['unix_socket_dir', config.socketDir],
    ['auth_file', config.authFile],
    ['pidfile', config.pidFile],
    ['logfile', config.logFile],
    ['pool_mode', config.poolMode],
    ['admin_users', config.adminUsers.join(',')],
    ['max_client_conn', config.maxClientConn],
    ['default_pool_size', config.defaultPoolSize],
    ...FIXED_SETTINGS,
  ];
  lines.push('', '[pgbouncer]');
  for (const [key, value] of settings) {
    if (value === undefined) continue;
    if (/[\r\n]/.test(String(value))) throw new PgpilotError('Pooler', `pooler setting ${key} holds a line break`);
    lines.push(`${key} = ${value}`);
  }
  return lines.join('\n') + '\n';
}

/** listen_addr (its first address) and listen_port of a pgbouncer.ini, to check that the pooler answers there. */
export function listenAddress(ini: string): { host: string; port: number } {
  const value = (key: string): string | undefined => ini.match(new RegExp(`^\\s*${key}\\s*=\\s*(.*?)\\s*$`, 'm'))?.[1];
  const host = value('listen_addr')?.split(',')[0]?.trim();
  const port = Number(value('listen_port') ?? '6432');
  if (host === undefined || host === '' || !Number.isInteger(port)) {
    throw new PgpilotError('Pooler', 'the pgbouncer.ini has no TCP listen_addr and listen_port', {
      hint: 'render it with renderPoolerIni',
    });
  }
  return { host: host === '*' ? '127.0.0.1' : host, port };
}

function databaseKey(name: string): string {
  if (name === '' || name === 'pgbouncer' || /[\r\n]/.test(name)) {
    throw new PgpilotError('Pooler', `"${name}" cannot be a pooled database name`, {
      hint: '"pgbouncer" is the admin console of the pooler',
    });
  }
  return PLAIN_DB.test(name) ? name : `"${name.replaceAll('"', '""')}"`;
}

function byLagThenAddress(a: PoolerTarget, b: PoolerTarget): number {
  const lag = (a.lagBytes ?? Infinity) - (b.lagBytes ?? Infinity);
  if (lag !== 0 && !Number.isNaN(lag)) return lag;
  return a.host === b.host ? a.port - b.port : a.host < b.host ? -1 : 1;
}
