// Finding a cluster from the CLI: its DCS endpoints (local runner state or --dcs), its view, and its members' APIs.
import { PgpilotError } from '../base/errors.js';
import { ClusterStore } from '../dcs/cluster-store.js';
import { etcdKv } from '../dcs/etcd/etcd-kv.js';
import type { ClusterView } from '../model/cluster.js';
import type { ConnectOptions } from '../pg/query.js';
import { clusterStatus, type ClusterStatus } from '../model/status.js';
import { clusterPaths } from './layout.js';
import { readState } from './state.js';

export interface ClusterAddress {
  name: string;
  endpoints: string[];
  namespace: string;
  home: string;
}

/** Where cluster `name` lives: `--dcs` given explicitly, else the local runner's state. */
export async function locateCluster(name: string, home: string, dcs?: string, namespace?: string): Promise<ClusterAddress> {
  if (dcs !== undefined) return { name, endpoints: dcs.split(','), namespace: namespace ?? '/service', home };
  const state = await readState(clusterPaths(name, home).state);
  if (state === undefined) {
    throw new PgpilotError('NotFound', `no cluster "${name}" under ${home}`, {
      hint: 'start it with `pgpilot up -f FILE`, set PGPILOT_HOME to where it was started, or pass --dcs URL for a cluster on other hosts',
    });
  }
  return { name, endpoints: state.dcsEndpoints, namespace: namespace ?? state.namespace, home };
}

export async function loadView(address: ClusterAddress): Promise<ClusterView> {
  const kv = etcdKv({ endpoints: address.endpoints });
  try {
    const view = await new ClusterStore(kv, address.namespace, address.name).load();
    if (view.initialize === undefined && view.members.length === 0) {
      throw new PgpilotError('NotFound', `the DCS at ${address.endpoints.join(',')} has no cluster "${address.name}" under ${address.namespace}`, {
        hint: 'check the cluster name and --namespace',
      });
    }
    return view;
  } finally {
    await kv.close();
  }
}

export async function loadStatus(address: ClusterAddress): Promise<ClusterStatus> {
  return clusterStatus(await loadView(address), { endpoints: address.endpoints, namespace: address.namespace });
}

/** The API base URL of a member, from its api_url in the DCS. */
export function memberApiUrl(view: ClusterView, member: string): string {
  const m = view.members.find((x) => x.name === member);
  if (m === undefined) {
    throw new PgpilotError('NotFound', `cluster ${view.scope} has no member "${member}"`, {
      hint: `members: ${view.members.map((x) => x.name).join(', ') || 'none registered'}`,
    });
  }
  return new URL(m.data.api_url).origin;
}

/** The leader's PostgreSQL as the superuser, from its member key; undefined without a leader. */
export function leaderSuperuser(view: ClusterView): Omit<ConnectOptions, 'password'> | undefined {
  const leader = view.members.find((m) => m.name === view.leader?.name);
  if (leader === undefined) return undefined;
  const url = new URL(leader.data.conn_url);
  return { host: url.hostname, port: Number(url.port || 5432), user: 'postgres', database: 'postgres' };
}
