// GET /cluster: the cluster view as Patroni 3.0.2's JSON, with each replica's lag behind the leader in bytes.
import type { ClusterView, MemberData } from '../model/cluster.js';

export interface ClusterMemberDocument {
  name: string;
  role: 'leader' | 'sync_standby' | 'replica';
  state: string;
  api_url: string;
  host?: string;
  port?: number;
  timeline?: number;
  pending_restart?: boolean;
  tags?: Record<string, unknown>;
  /** Bytes behind the leader; absent on the leader itself, as in Patroni. */
  lag?: number | 'unknown';
}

export interface ClusterDocument {
  members: ClusterMemberDocument[];
  scope: string;
  pause?: true;
}

export function clusterDocument(view: ClusterView): ClusterDocument {
  const members = view.members
    .map((m) => memberDocument(view, m.name, m.data))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { members, scope: view.scope, ...(view.config?.pause === true ? { pause: true } : {}) };
}

function memberDocument(view: ClusterView, name: string, data: MemberData): ClusterMemberDocument {
  const isLeader = name === view.leader?.name;
  return {
    name,
    role: isLeader ? 'leader' : (view.sync?.sync_standby ?? '').split(',').map((n) => n.trim()).includes(name) ? 'sync_standby' : 'replica',
    state: data.state,
    api_url: data.api_url,
    ...hostAndPort(data.conn_url),
    ...(data.timeline === undefined ? {} : { timeline: data.timeline }),
    ...(data.pending_restart === undefined ? {} : { pending_restart: data.pending_restart }),
    ...(data.tags === undefined ? {} : { tags: data.tags }),
    ...(isLeader ? {} : { lag: memberLag(view, data) }),
  };
}

/** The leader's WAL position: the DCS status key (optime), else the leader member's own xlog_location. */
export function leaderPosition(view: ClusterView): number | undefined {
  const leader = view.members.find((m) => m.name === view.leader?.name);
  return view.optime ?? leader?.data.xlog_location;
}

/** Bytes a member is behind the leader, from the furthest position it reports; never negative. */
export function memberLag(view: ClusterView, data: MemberData): number | 'unknown' {
  const positions = [data.received_location, data.replayed_location, data.xlog_location].filter(
    (p): p is number => p !== undefined,
  );
  const leader = leaderPosition(view);
  if (leader === undefined || positions.length === 0) return 'unknown';
  return Math.max(0, leader - Math.max(...positions));
}

/** Host and port of a `postgres://host:port/db` URL; whatever cannot be read is left out. */
export function hostAndPort(connUrl: string): { host?: string; port?: number } {
  let url: URL;
  try {
    url = new URL(connUrl);
  } catch {
    return {};
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '') return {};
  return url.port === '' ? { host } : { host, port: Number(url.port) };
}
