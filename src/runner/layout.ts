// Where a locally run cluster keeps its files under $PGPILOT_HOME (default ./.pgpilot).
import path from 'node:path';

export interface MemberPaths {
  dir: string;
  agentConfig: string;
  agentLog: string;
  dataDir: string;
  postgresLog: string;
  socketDir: string;
}

export interface ClusterPaths {
  home: string;
  dir: string;
  manifest: string;
  state: string;
  supervisorLog: string;
  etcdDir: string;
  etcdLog: string;
  /** rw/ and ro/: one pgbouncer's files each. */
  poolerDir: string;
  secretsDir: string;
  /** Written by `pgpilot restore --to-new`: the first member's data directory is a restored backup. */
  restoredMarker: string;
  superuserPassword: string;
  replicationPassword: string;
  apiToken: string;
  userPassword(user: string): string;
  member(name: string): MemberPaths;
}

export function pgpilotHome(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env['PGPILOT_HOME'] ?? '.pgpilot');
}

export function clusterPaths(name: string, home = pgpilotHome()): ClusterPaths {
  const dir = path.join(home, name);
  const secretsDir = path.join(dir, 'secrets');
  return {
    home,
    dir,
    manifest: path.join(dir, 'manifest.yaml'),
    state: path.join(dir, 'state.json'),
    supervisorLog: path.join(dir, 'supervisor.log'),
    etcdDir: path.join(dir, 'etcd'),
    etcdLog: path.join(dir, 'etcd.log'),
    poolerDir: path.join(dir, 'pooler'),
    secretsDir,
    restoredMarker: path.join(dir, 'restored-from.json'),
    superuserPassword: path.join(secretsDir, 'superuser.password'),
    replicationPassword: path.join(secretsDir, 'replication.password'),
    apiToken: path.join(secretsDir, 'api.token'),
    userPassword: (user) => path.join(secretsDir, `user-${user}.password`),
    member: (member) => {
      const mdir = path.join(dir, 'members', member);
      return {
        dir: mdir,
        agentConfig: path.join(mdir, 'agent.yaml'),
        agentLog: path.join(mdir, 'agent.log'),
        dataDir: path.join(mdir, 'data'),
        postgresLog: path.join(mdir, 'postgres.log'),
        socketDir: path.join(mdir, 'run'),
      };
    },
  };
}

/** Member i of cluster `name` is called `<name>-<i>`. */
export function memberName(cluster: string, index: number): string {
  return `${cluster}-${index}`;
}
