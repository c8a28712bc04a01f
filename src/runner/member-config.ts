// Turns a manifest into the agent config of each member the local runner starts (pure).
import path from 'node:path';
import type { AgentConfig, Manifest } from '../config/types.js';
import { clusterPaths, memberName } from './layout.js';

/**
 * `restored`: the first member's data directory holds a restored backup (`pgpilot restore --to-new` or `--in-place`): it
 * bootstraps the cluster from it instead of running initdb. Either way the others wait to clone the first.
 */
export function memberConfigs(manifest: Manifest, dcsEndpoints: string[], home: string, restored = false): AgentConfig[] {
  const { spec } = manifest;
  const name = manifest.metadata.name;
  const paths = clusterPaths(name, home);
  return Array.from({ length: spec.instances }, (_, i) => {
    const member = memberName(name, i);
    const mp = paths.member(member);
    return {
      name: member,
      scope: name,
      namespace: spec.dcs.namespace,
      dcs: { endpoints: dcsEndpoints },
      postgres: {
        dataDir: mp.dataDir,
        binDir: '/usr/lib/postgresql/15/bin',
        listen: spec.postgres.listen,
        connectAddress: connectAddressFor(spec.postgres.listen),
        port: spec.postgres.port + i,
        socketDir: mp.socketDir,
        logFile: mp.postgresLog,
        runAs: 'postgres',
        parameters: spec.postgres.parameters,
      },
      api: {
        listen: spec.api.listen,
        connectAddress: connectAddressFor(spec.api.listen),
        port: spec.api.port + i,
        tokenFile: paths.apiToken,
      },
      secrets: { superuserPasswordFile: paths.superuserPassword, replicationPasswordFile: paths.replicationPassword },
      bootstrap: {
        // The first member bootstraps (initdb, or adopts a restored directory); the others wait to clone it. All run on
        // this host, so a race would buy nothing, and `up` gives the same primary every time.
        method: i > 0 ? 'none' : restored ? 'existing' : 'initdb',
        users: spec.users.map((u) => ({ ...u, passwordFile: paths.userPassword(u.name) })),
        databases: spec.databases,
      },
      ha: spec.ha,
      synchronous: spec.synchronous,
      pooler: {
        enabled: spec.pooler.enabled,
        listen: spec.postgres.listen === '0.0.0.0' || spec.postgres.listen === '*' ? '0.0.0.0' : '127.0.0.1',
        port: spec.pooler.port,
        mode: spec.pooler.mode,
        dir: paths.poolerDir,
        databases: spec.databases.map((d) => d.name),
      },
      backup: { ...spec.backup, spoolDir: path.join(mp.dir, 'spool') },
      tags: { nofailover: false },
    };
  });
}

/** On one host, a wildcard listen address is reached through loopback. */
function connectAddressFor(listen: string): string {
  return listen === '0.0.0.0' || listen === '*' || listen === '::' ? '127.0.0.1' : listen;
}
