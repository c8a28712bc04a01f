// The cluster status users see (`pgpilot status --json`), derived from the DCS view; and when it counts as healthy.
import type { ClusterMember, ClusterView } from './cluster.js';

export interface MemberStatusRow {
  name: string;
  role: 'primary' | 'replica';
  state: string;
  host: string;
  port: number;
  apiPort: number;
  timeline: number | null;
  lagBytes: number | null;
  streaming: boolean;
  pendingRestart: boolean;
  agentPid: number | null;
  postgresPid: number | null;
}

export interface ClusterStatus {
  name: string;
  dcs: { endpoints: string[]; namespace: string; scope: string };
  members: MemberStatusRow[];
}

function hostPort(url: string): { host: string; port: number } {
  try {
    const u = new URL(url);
    return { host: u.hostname, port: Number(u.port) };
  } catch {
    return { host: '', port: 0 };
  }
}

function position(m: ClusterMember): number | undefined {
  return m.data.received_location ?? m.data.replayed_location ?? m.data.xlog_location;
}

function row(view: ClusterView, m: ClusterMember, leaderPosition: number | undefined): MemberStatusRow {
  const isLeader = view.leader?.name === m.name;
  const pos = position(m);
  const { host, port } = hostPort(m.data.conn_url);
  return {
    name: m.name,
    role: isLeader ? 'primary' : 'replica',
    state: m.data.state,
    host,
    port,
    apiPort: hostPort(m.data.api_url).port,
    timeline: m.data.timeline ?? null,
    lagBytes: isLeader ? 0 : leaderPosition === undefined || pos === undefined ? null : Math.max(0, leaderPosition - pos),
    streaming: m.data.pgpilot?.streaming ?? false,
    pendingRestart: m.data.pending_restart ?? false,
    agentPid: m.data.pgpilot?.agentPid ?? null,
    postgresPid: m.data.pgpilot?.postgresPid ?? null,
  };
}

export function clusterStatus(view: ClusterView, dcs: { endpoints: string[]; namespace: string }): ClusterStatus {
  const leader = view.members.find((m) => m.name === view.leader?.name);
  const leaderPosition = view.optime ?? (leader === undefined ? undefined : leader.data.xlog_location);
  return {
    name: view.scope,
    dcs: { endpoints: dcs.endpoints, namespace: dcs.namespace, scope: view.scope },
    members: view.members.map((m) => row(view, m, leaderPosition)),
  };
}

/** Why the cluster is not yet healthy with exactly these members, or undefined when it is. */
export function unhealthyReason(status: ClusterStatus, expectedMembers: string[]): string | undefined {
  const primaries = status.members.filter((m) => m.role === 'primary');
  if (primaries.length !== 1 || primaries[0] === undefined) return `${primaries.length} primaries`;
  const primary = primaries[0];
  if (primary.state !== 'running') return `primary ${primary.name} is ${primary.state}`;
  for (const name of expectedMembers) {
    const m = status.members.find((x) => x.name === name);
    if (m === undefined) return `member ${name} has not registered`;
    if (m.role === 'primary') continue;
    if (m.state !== 'running') return `member ${name} is ${m.state}`;
    if (!m.streaming) return `member ${name} is not streaming`;
    if (m.timeline !== primary.timeline) return `member ${name} is on timeline ${m.timeline} (primary: ${primary.timeline})`;
  }
  const extra = status.members.find((m) => !expectedMembers.includes(m.name));
  return extra === undefined ? undefined : `member ${extra.name} is still registered`;
}
