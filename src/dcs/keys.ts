// Patroni's etcd key layout: /<namespace>/<scope>/{initialize,config,leader,members/<name>,history,sync,failover,status}.

export interface ClusterKeys {
  prefix: string;
  initialize: string;
  config: string;
  leader: string;
  members: string;
  member(name: string): string;
  history: string;
  sync: string;
  failover: string;
  status: string;
}

export function clusterKeys(namespace: string, scope: string): ClusterKeys {
  const ns = `/${namespace.replace(/^\/+|\/+$/g, '')}`;
  const prefix = `${ns === '/' ? '' : ns}/${scope}/`;
  return {
    prefix,
    initialize: `${prefix}initialize`,
    config: `${prefix}config`,
    leader: `${prefix}leader`,
    members: `${prefix}members/`,
    member: (name) => `${prefix}members/${name}`,
    history: `${prefix}history`,
    sync: `${prefix}sync`,
    failover: `${prefix}failover`,
    status: `${prefix}status`,
  };
}
