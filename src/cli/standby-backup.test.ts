// Which replica a backup with spec.backup.fromStandby reads: running, streaming, not the leader, the least behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clusterView, memberData } from '../api/fixtures.js';
import type { ClusterMember } from '../model/cluster.js';
import { chooseStandby } from './standby-backup.js';

const replica = (name: string, replayed: number, extra: Partial<ClusterMember['data']> = {}): ClusterMember => ({
  name,
  data: memberData({ role: 'replica', replayed_location: replayed, pgpilot: { streaming: true }, ...extra }),
});

test('chooseStandby takes the streaming replica that replayed the most', () => {
  const view = clusterView({ members: [{ name: 'pg-0', data: memberData() }, replica('pg-1', 100), replica('pg-2', 300), replica('pg-3', 200)] });
  assert.equal(chooseStandby(view, 'pg-0')?.name, 'pg-2');
});

test('chooseStandby skips replicas that do not stream or run, and the leader', () => {
  const members = [
    { name: 'pg-0', data: memberData({ role: 'replica', pgpilot: { streaming: true } }) },
    replica('pg-1', 900, { pgpilot: { streaming: false } }),
    replica('pg-2', 800, { state: 'starting' }),
    replica('pg-3', 10),
  ];
  assert.equal(chooseStandby(clusterView({ members }), 'pg-9')?.name, 'pg-3', 'the leader key names pg-0');
  assert.equal(chooseStandby(clusterView({ members: members.slice(0, 3) }), 'pg-0'), undefined);
});
