// pgpilot's pg_hba.conf: peer on the socket, scram-sha-256 over TCP, for all databases and for replication.
import path from 'node:path';
import { writeOwnedFile, type RunAs } from './os-user.js';

export interface HbaOptions {
  /** listen_addresses; anything beyond loopback opens TCP access from any address (still password-checked). */
  listen: string;
  /** The role replicas stream as. */
  replicationUser: string;
}

/** Our pg_hba.conf, in the data directory where initdb put its own; postgresql.conf's hba_file points at it. */
export function hbaPath(dataDir: string): string {
  return path.join(path.resolve(dataDir), 'pg_hba.conf');
}

/** Whether every address in a listen_addresses list is a loopback one. */
export function isLoopbackOnly(listen: string): boolean {
  const addresses = listen.split(',').map((a) => a.trim()).filter((a) => a !== '');
  return addresses.every((a) => a === 'localhost' || a === '::1' || /^127\.\d+\.\d+\.\d+$/.test(a));
}

export function renderHba(options: HbaOptions): string {
  const networks = ['127.0.0.1/32', '::1/128'];
  if (!isLoopbackOnly(options.listen)) networks.push('0.0.0.0/0', '::/0');
  const user = `"${options.replicationUser}"`;
  const lines = [
    '# Managed by pgpilot: rewritten by the agent, edits are lost.',
    '# TYPE  DATABASE     USER  ADDRESS  METHOD',
    'local   all          all            peer',
    ...networks.map((n) => `host    all          all   ${n}  scram-sha-256`),
    ...networks.map((n) => `host    replication  ${user}  ${n}  scram-sha-256`),
  ];
  return `${lines.join('\n')}\n`;
}

export async function writeHba(dataDir: string, options: HbaOptions, owner: RunAs): Promise<void> {
  await writeOwnedFile(hbaPath(dataDir), renderHba(options), 0o600, owner);
}
