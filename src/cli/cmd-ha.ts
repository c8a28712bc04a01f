// CLI commands for planned and manual HA operations: switchover, failover, pause, resume, history.
import { PgpilotError } from '../base/errors.js';
import { apiClient } from '../client/api-client.js';
import type { ClusterView } from '../model/cluster.js';
import { formatLsn } from '../model/lsn.js';
import { loadView, locateCluster, memberApiUrl } from '../runner/cluster-access.js';
import { clusterPaths } from '../runner/layout.js';
import { readSecretFile } from '../runner/secrets.js';
import { boolFlag, stringFlag, type ParsedArgs } from './args.js';
import type { Io } from './io.js';
import { json, table } from './output.js';

async function target(args: ParsedArgs, io: Io): Promise<{ name: string; view: ClusterView; token: string }> {
  const name = args.positionals[0] ?? '';
  const address = await locateCluster(name, io.home, stringFlag(args, 'dcs'), stringFlag(args, 'namespace'));
  const view = await loadView(address);
  const token = await readSecretFile(stringFlag(args, 'token-file') ?? clusterPaths(name, io.home).apiToken);
  return { name, view, token };
}

/** Parses --at: an ISO 8601 time, or "now". */
function scheduledAt(args: ParsedArgs): string | undefined {
  const at = stringFlag(args, 'at');
  if (at === undefined || at === 'now') return undefined;
  const ms = Date.parse(at);
  if (Number.isNaN(ms)) throw new PgpilotError('Usage', `--at "${at}" is not a time`, { hint: 'use ISO 8601, e.g. 2026-11-22T03:00:00Z' });
  return new Date(ms).toISOString();
}

export async function cmdSwitchover(args: ParsedArgs, io: Io): Promise<number> {
  const { name, view, token } = await target(args, io);
  const leader = view.leader?.name;
  if (leader === undefined) {
    throw new PgpilotError('State', `cluster ${name} has no leader to switch over from`, { hint: `use \`pgpilot failover ${name} --to MEMBER\`` });
  }
  const candidate = stringFlag(args, 'to');
  const at = scheduledAt(args);
  const client = apiClient({ baseUrl: memberApiUrl(view, leader), token, timeoutMs: 60_000 });
  const result = await client.switchover({ leader, ...(candidate === undefined ? {} : { candidate }), ...(at === undefined ? {} : { scheduled_at: at }) });
  io.out(result);
  return 0;
}

export async function cmdFailover(args: ParsedArgs, io: Io): Promise<number> {
  const { view, token } = await target(args, io);
  const candidate = stringFlag(args, 'to');
  if (candidate === undefined) throw new PgpilotError('Usage', 'pgpilot failover: --to MEMBER is required', { hint: 'name the member to promote' });
  if (!boolFlag(args, 'yes') && view.leader !== undefined) {
    throw new PgpilotError('NotConfirmed', `cluster ${view.scope} has a leader (${view.leader.name}): a failover ends its writes abruptly`, {
      hint: 'prefer `pgpilot switchover`; pass --yes to fail over anyway',
    });
  }
  const result = await apiClient({ baseUrl: memberApiUrl(view, candidate), token, timeoutMs: 60_000 }).failover({ candidate });
  io.out(result);
  return 0;
}

async function setPause(args: ParsedArgs, io: Io, pause: boolean): Promise<number> {
  const { name, view, token } = await target(args, io);
  const member = view.leader?.name ?? view.members[0]?.name;
  if (member === undefined) throw new PgpilotError('State', `cluster ${name} has no member to ask`);
  await apiClient({ baseUrl: memberApiUrl(view, member), token }).patchConfig({ pause: pause ? true : null });
  io.out(pause ? `cluster ${name} paused: no automatic failover until \`pgpilot resume ${name}\`` : `cluster ${name} resumed: automatic failover is on`);
  return 0;
}

export const cmdPause = (args: ParsedArgs, io: Io): Promise<number> => setPause(args, io, true);
export const cmdResume = (args: ParsedArgs, io: Io): Promise<number> => setPause(args, io, false);

export async function cmdHistory(args: ParsedArgs, io: Io): Promise<number> {
  const name = args.positionals[0] ?? '';
  const view = await loadView(await locateCluster(name, io.home, stringFlag(args, 'dcs'), stringFlag(args, 'namespace')));
  const rows = view.history.map(([tl, lsn, reason, time, leader]) => ({ timeline: tl, lsn, reason, time: time ?? null, newLeader: leader ?? null }));
  if (boolFlag(args, 'json')) {
    io.out(json(rows));
    return 0;
  }
  io.out(table(['TL', 'LSN', 'Reason', 'Time', 'New Leader'], rows.map((r) => [String(r.timeline), formatLsn(BigInt(r.lsn)), r.reason, r.time ?? '', r.newLeader ?? ''])));
  return 0;
}
