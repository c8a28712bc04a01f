// POST /restart conditions, as Patroni's API takes them: refuse what pgpilot does not do, skip what does not match.
import type { MemberStatus } from '../model/cluster.js';

/** Why a restart request is not carried out, with the status Patroni answers in that case. */
export interface RestartRefusal {
  status: 400 | 503;
  message: string;
}

const unsupported = new Set(['schedule', 'postgres_version', 'timeout']);

/** Undefined when the member should restart now; the body is the request's JSON object (may be empty). */
export function restartRefusal(options: Record<string, unknown>, s: MemberStatus): RestartRefusal | undefined {
  for (const key of Object.keys(options)) {
    if (unsupported.has(key)) return { status: 400, message: `restart option "${key}" is not supported by pgpilot` };
    if (key !== 'role' && key !== 'restart_pending') {
      return { status: 400, message: `Unknown filter for the scheduled restart: ${key}` };
    }
  }
  const role = options['role'];
  if (role !== undefined && role !== 'master' && role !== 'primary' && role !== 'replica') {
    return { status: 400, message: 'PostgreSQL role should be either primary or replica' };
  }
  const roleMatches = role === undefined || s.role === (role === 'replica' ? 'replica' : 'primary');
  const pendingMatches = options['restart_pending'] !== true || s.pendingRestart;
  return roleMatches && pendingMatches ? undefined : { status: 503, message: 'restart conditions are not satisfied' };
}
