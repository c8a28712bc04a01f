// Switchover and failover requests as the REST API receives them: check, write the failover key, wait for the outcome.
import { sleep } from '../base/wait.js';
import type { SwitchoverRequest } from '../api/backend.js';
import type { ClusterStore } from '../dcs/cluster-store.js';
import { syncSet } from '../ha/election.js';
import { queryPeers } from '../ha/peers.js';
import { syncPolicy } from '../ha/sync.js';
import type { ClusterView } from '../model/cluster.js';

export type SwitchoverResult = { status: 200 | 202 | 412 | 503; message: string };

const outcomeTimeoutMs = 30_000;

/** Patroni's preconditions, in its words where it has them; undefined when the request may go ahead. */
async function precondition(view: ClusterView, req: SwitchoverRequest, me: string): Promise<string | undefined> {
  const leader = view.leader?.name;
  if (req.leader !== undefined && leader === undefined) return 'Cluster has no leader: use failover instead';
  if (req.leader !== undefined && req.leader !== leader) return 'leader name does not match';
  if (req.candidate === undefined) return undefined;
  const candidate = view.members.find((m) => m.name === req.candidate);
  if (candidate === undefined) return `candidate ${req.candidate} does not exist`;
  if (req.candidate === leader) return `candidate ${req.candidate} is already the leader`;
  if (syncPolicy(view.config).mode !== 'off' && !syncSet(view).includes(req.candidate)) return 'candidate name does not match with sync_standby';
  const peer = req.candidate === me ? undefined : (await queryPeers([candidate], me))[req.candidate];
  if (peer !== undefined && (!peer.reachable || peer.state !== 'running')) return `Member ${req.candidate} is not healthy`;
  return undefined;
}

export async function requestSwitchover(
  store: ClusterStore,
  req: SwitchoverRequest,
  me: string,
  loop: { wake(): void; switchoverRefusedSince(since: number): string | undefined },
): Promise<SwitchoverResult> {
  const asked = Date.now();
  const view = await store.load();
  const refusal = await precondition(view, req, me);
  if (refusal !== undefined) return { status: 412, message: refusal };
  const oldLeader = view.leader?.name;
  const request = {
    ...(req.leader === undefined ? {} : { leader: req.leader }),
    ...(req.candidate === undefined ? {} : { member: req.candidate }),
    ...(req.scheduledAt === undefined ? {} : { scheduled_at: new Date(req.scheduledAt).toISOString() }),
  };
  await store.setFailover(request);
  loop.wake();
  if (req.scheduledAt !== undefined) return { status: 202, message: `Switchover scheduled at ${request.scheduled_at}` };
  const deadline = Date.now() + outcomeTimeoutMs;
  const verb = req.leader === undefined ? 'failed over' : 'switched over';
  while (Date.now() < deadline) {
    await sleep(100);
    const now = await store.load().catch(() => undefined);
    const newLeader = now?.leader?.name;
    if (newLeader !== undefined && newLeader !== oldLeader && (req.candidate === undefined || newLeader === req.candidate)) {
      return { status: 200, message: `Successfully ${verb} to "${newLeader}"` };
    }
    if (now !== undefined && now.failover === undefined && newLeader === oldLeader) {
      const why = loop.switchoverRefusedSince(asked) ?? `the leader refused it (see the log of ${oldLeader ?? 'the leader'})`;
      return { status: 503, message: `Switchover failed: ${why}` };
    }
  }
  return { status: 503, message: 'Switchover status unknown' };
}

export async function cancelScheduledSwitchover(store: ClusterStore): Promise<{ status: 200 | 404; message: string }> {
  const view = await store.load();
  if (view.failover?.scheduled_at === undefined) return { status: 404, message: 'no scheduled switchover' };
  await store.clearFailover();
  return { status: 200, message: 'scheduled switchover deleted' };
}
