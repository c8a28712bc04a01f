// Synchronous replication, managed by the leader: which standbys to make synchronous, synchronous_standby_names,
// and the sync key that names who holds every acknowledged commit (pure functions).
import type { DynamicConfig } from '../model/cluster.js';
import type { ReplicationInfo } from './observation.js';
import type { SyncPolicy } from './observation.js';

export function syncPolicy(config: DynamicConfig | undefined): SyncPolicy {
  const mode = config?.['synchronous_mode'];
  const count = config?.['synchronous_node_count'];
  return {
    mode: mode === 'quorum' ? 'quorum' : mode === true || mode === 'on' ? 'on' : 'off',
    number: typeof count === 'number' && count >= 1 ? count : 1,
    strict: config?.['synchronous_mode_strict'] === true,
  };
}

/** Streaming standbys that may be synchronous: known members, not tagged nofailover, in name order (stable choice). */
export function syncCandidates(replication: ReplicationInfo[], members: Array<{ name: string; nofailover: boolean }>): string[] {
  return replication
    .filter((r) => r.state === 'streaming' && members.some((m) => m.name === r.application_name && !m.nofailover))
    .map((r) => r.application_name)
    .sort();
}

/** The standbys the leader wants synchronous: `number` of them (mode on), every candidate (quorum), none (off). */
export function desiredSync(policy: SyncPolicy, candidates: string[]): string[] {
  if (policy.mode === 'off') return [];
  return policy.mode === 'on' ? candidates.slice(0, policy.number) : candidates;
}

const quoted = (names: string[]): string => names.map((n) => `"${n}"`).join(',');

/** synchronous_standby_names for the wanted set; '*' keeps commits waiting when strict and nobody qualifies. */
export function standbyNames(policy: SyncPolicy, wanted: string[]): string {
  if (policy.mode === 'off') return '';
  if (wanted.length === 0) return policy.strict ? '*' : '';
  const n = Math.min(policy.number, wanted.length);
  return policy.mode === 'on' ? `FIRST ${n} (${quoted(wanted)})` : `ANY ${n} (${quoted(wanted)})`;
}

/**
 * The next content of the sync key. Members leave the key before they leave synchronous_standby_names, and join it
 * only once PostgreSQL reports them synchronous, so the key never names a member that may lack a commit.
 */
export function nextSyncKey(current: string[], wanted: string[], reportedSync: string[]): string[] {
  const kept = current.filter((n) => wanted.includes(n));
  const joined = wanted.filter((n) => reportedSync.includes(n) && !kept.includes(n));
  return [...kept, ...joined].sort();
}
