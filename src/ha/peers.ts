// Asking the other members' agents directly: fresh WAL positions before a failover, and failsafe pings without the DCS.
import http from 'node:http';
import type { ClusterMember } from '../model/cluster.js';
import type { PeerState } from './observation.js';

const peerTimeoutMs = 1000;

interface PatroniReply {
  state?: string;
  role?: 'master' | 'replica' | 'uninitialized';
  xlog?: { location?: number | null; received_location?: number | null; replayed_location?: number | null };
}

const unreachable: PeerState = { reachable: false, position: undefined, role: undefined, state: undefined };

function peerState(reply: PatroniReply): PeerState {
  const x = reply.xlog ?? {};
  const positions = [x.location, x.received_location, x.replayed_location].filter((v): v is number => typeof v === 'number');
  return { reachable: true, position: positions.length > 0 ? Math.max(...positions) : undefined, role: reply.role, state: reply.state };
}

/** One JSON request with node:http (the agent does not load fetch: it costs ~10 MiB of resident memory). */
function ask(url: string, init: { method: string; headers?: Record<string, string>; body?: string }): Promise<PeerState> {
  return new Promise((resolve) => {
    const req = http.request(url, { method: init.method, headers: init.headers, timeout: peerTimeoutMs }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        if ((res.statusCode ?? 500) >= 300) return resolve(unreachable);
        try {
          resolve(peerState(JSON.parse(text) as PatroniReply));
        } catch {
          resolve(unreachable);
        }
      });
      res.on('error', () => resolve(unreachable));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(unreachable));
    req.end(init.body);
  });
}

async function askAll(members: ClusterMember[], me: string, call: (m: ClusterMember) => Promise<PeerState>): Promise<Record<string, PeerState>> {
  const others = members.filter((m) => m.name !== me);
  const states = await Promise.all(others.map(call));
  return Object.fromEntries(others.map((m, i) => [m.name, states[i] ?? unreachable]));
}

/** GET /patroni of every other member, in parallel, one second each at most. */
export function queryPeers(members: ClusterMember[], me: string): Promise<Record<string, PeerState>> {
  return askAll(members, me, (m) => ask(m.data.api_url, { method: 'GET' }));
}

/** POST /failsafe to every other member: "the leader is alive"; they answer with their /patroni document. */
export function failsafePing(members: ClusterMember[], me: string, token: string): Promise<Record<string, PeerState>> {
  return askAll(members, me, (m) =>
    ask(new URL('/failsafe', m.data.api_url).href, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ leader: me }),
    }),
  );
}
