// CLI commands that look at or act on a running cluster: status, connection, psql, logs, restart.
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import { PgpilotError } from '../base/errors.js';
import { apiClient } from '../client/api-client.js';
import type { ClusterStatus } from '../model/status.js';
import { loadStatus, loadView, locateCluster, memberApiUrl } from '../runner/cluster-access.js';
import { clusterPaths } from '../runner/layout.js';
import { readSecretFile } from '../runner/secrets.js';
import { boolFlag, stringFlag, type ParsedArgs } from './args.js';
import { connectionInfo } from './connection-info.js';
import type { Io } from './io.js';
import { json, table } from './output.js';

const cell = (v: string | number | null): string => (v === null ? '' : String(v));

export function renderStatus(s: ClusterStatus): string {
  const rows = s.members.map((m) => [
    m.name,
    `${m.host}:${m.port}`,
    m.role === 'primary' ? 'Leader' : 'Replica',
    m.state + (m.pendingRestart ? ' (pending restart)' : ''),
    cell(m.timeline),
    m.lagBytes === null ? 'unknown' : m.role === 'primary' ? '' : String(Math.round(m.lagBytes / 1048576)),
    cell(m.agentPid),
    cell(m.postgresPid),
  ]);
  return `Cluster: ${s.name}\n${table(['Member', 'Host', 'Role', 'State', 'TL', 'Lag in MB', 'Agent PID', 'Postgres PID'], rows)}`;
}

function address(args: ParsedArgs, io: Io): ReturnType<typeof locateCluster> {
  return locateCluster(args.positionals[0] ?? '', io.home, stringFlag(args, 'dcs'), stringFlag(args, 'namespace'));
}

export async function cmdStatus(args: ParsedArgs, io: Io): Promise<number> {
  const status = await loadStatus(await address(args, io));
  io.out(boolFlag(args, 'json') ? json(status) : renderStatus(status));
  return 0;
}

export async function cmdConnection(args: ParsedArgs, io: Io): Promise<number> {
  const info = await connectionInfo(args.positionals[0] ?? '', io.home);
  io.out(boolFlag(args, 'json') ? json(info) : info.uri);
  return 0;
}

export async function cmdPsql(args: ParsedArgs, io: Io): Promise<number> {
  const name = args.positionals[0] ?? '';
  const status = await loadStatus(await address(args, io));
  const wanted = boolFlag(args, 'replica') ? 'replica' : 'primary';
  const member = status.members.find((m) => m.role === wanted && m.state === 'running');
  if (member === undefined) throw new PgpilotError('State', `cluster ${name} has no running ${wanted}`, { hint: `see \`pgpilot status ${name}\`` });
  const password = await readSecretFile(clusterPaths(name, io.home).superuserPassword);
  const child = spawn('psql', ['-h', member.host, '-p', String(member.port), '-U', 'postgres', '-d', 'postgres', ...args.rest], {
    stdio: 'inherit',
    env: { ...process.env, PGPASSWORD: password },
  });
  return new Promise((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
}

export async function cmdLogs(args: ParsedArgs, io: Io): Promise<number> {
  const name = args.positionals[0] ?? '';
  const paths = clusterPaths(name, io.home);
  const only = stringFlag(args, 'member');
  const lines = Number(stringFlag(args, 'lines') ?? '100');
  const members = only === undefined ? await fs.readdir(`${paths.dir}/members`).catch(() => []) : [only];
  if (members.length === 0) throw new PgpilotError('NotFound', `no members of ${name} under ${paths.dir}`);
  for (const m of members.sort()) {
    for (const [label, file] of [['agent', paths.member(m).agentLog], ['postgres', paths.member(m).postgresLog]] as const) {
      const text = await fs.readFile(file, 'utf8').catch(() => undefined);
      if (text === undefined && only !== undefined && label === 'agent') {
        throw new PgpilotError('NotFound', `no member "${m}" in cluster ${name}`, { hint: `members: see pgpilot status ${name}` });
      }
      io.out(`==> ${m} ${label} (${file}) <==`);
      io.out((text ?? '').split('\n').slice(-lines - 1).join('\n'));
    }
  }
  return 0;
}

export async function cmdRestart(args: ParsedArgs, io: Io): Promise<number> {
  const name = args.positionals[0] ?? '';
  const addr = await address(args, io);
  const view = await loadView(addr);
  const tokenFile = stringFlag(args, 'token-file') ?? clusterPaths(name, io.home).apiToken;
  const token = await readSecretFile(tokenFile);
  const only = stringFlag(args, 'member');
  // Replicas first, the leader last: clients lose the primary once, at the end.
  const order = view.members.map((m) => m.name).filter((m) => only === undefined || m === only)
    .sort((a, b) => Number(a === view.leader?.name) - Number(b === view.leader?.name));
  if (only !== undefined && order.length === 0) memberApiUrl(view, only);
  for (const m of order) {
    io.out(`restarting ${m}...`);
    await apiClient({ baseUrl: memberApiUrl(view, m), token, timeoutMs: 120_000 }).restart();
  }
  io.out(`restarted ${order.join(', ')}`);
  return 0;
}
