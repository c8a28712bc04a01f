// The read-write and read-only pgbouncer of a cluster: port and port + 1, files under dir/rw and dir/ro.
import path from 'node:path';
import type { PoolMode } from './config.js';
import { Pooler } from './pooler.js';

export interface PoolerPairOptions {
  dir: string;
  listen: string;
  port: number;
  mode: PoolMode;
  databases: string[];
  /** The console login of both poolers. */
  admin: { user: string; password: string };
  runAs: { uid: number; gid: number };
}

export interface PoolerPair {
  rw: Pooler;
  ro: Pooler;
}

export function poolerPair(o: PoolerPairOptions): PoolerPair {
  const make = (name: 'rw' | 'ro', port: number): Pooler =>
    new Pooler({ name, dir: path.join(o.dir, name), listenAddr: o.listen, port, poolMode: o.mode, databases: o.databases, admin: o.admin, runAs: o.runAs });
  return { rw: make('rw', o.port), ro: make('ro', o.port + 1) };
}

/** The console user pgpilot uses on its poolers (not a PostgreSQL role). */
export const poolerAdminUser = 'pgpilot';
