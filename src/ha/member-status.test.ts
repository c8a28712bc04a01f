// Unit tests of the member status the API reports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAgentConfig } from '../config/agent-config.js';
import type { ClusterView } from '../model/cluster.js';
import { memberStatus } from './member-status.js';

const config = parseAgentConfig([
  'name: m1', 'scope: c', 'dcs: {endpoints: [http://127.0.0.1:2379]}',
  'postgres: {dataDir: /d/data, port: 5432, logFile: /d/pg.log}', 'api: {port: 8008, tokenFile: /d/t}',
  'secrets: {superuserPasswordFile: /d/s, replicationPasswordFile: /d/r}', '',
].join('\n'), 'test.yaml');
const view = { leader: { name: 'm0', lease: '1' }, optime: 1000, config: undefined } as unknown as ClusterView;
const pg = {
  inRecovery: true, timeline: 2, walPosition: 900n, receivedPosition: 900n, replayedPosition: 880n, streaming: true,
  systemIdentifier: '7', replication: [], serverVersion: 150000, postmasterStartTime: 't', pendingRestart: false,
};

test('a streaming replica reports its lag behind the leader position', () => {
  const s = memberStatus({ config, state: 'running', pg, view, lastLoopAt: 5 });
  assert.equal(s.role, 'replica');
  assert.equal(s.isLeader, false);
  assert.equal(s.lagBytes, 100);
  assert.equal(s.walPosition, undefined);
  assert.equal(s.ttlSeconds, 3);
});

test('without PostgreSQL the member is uninitialized; a primary reports its write position and no lag', () => {
  assert.equal(memberStatus({ config, state: 'stopped', pg: undefined, view, lastLoopAt: 0 }).role, 'uninitialized');
  const primary = memberStatus({ config, state: 'running', pg: { ...pg, inRecovery: false }, view: { ...view, leader: { name: 'm1', lease: '1' } }, lastLoopAt: 0 });
  assert.deepEqual([primary.role, primary.isLeader, primary.walPosition, primary.lagBytes], ['primary', true, 900, undefined]);
});
