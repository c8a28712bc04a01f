// The application role's connection details (what operators publish as the cluster's secret).
import { PgpilotError } from '../base/errors.js';
import { loadManifest } from '../config/manifest.js';
import { loadView, locateCluster } from '../runner/cluster-access.js';
import { clusterPaths } from '../runner/layout.js';
import { readSecretFile } from '../runner/secrets.js';

export interface ConnectionInfo {
  host: string;
  port: number;
  user: string;
  password: string;
  dbname: string;
  uri: string;
  /** With spec.pooler enabled: the read-write endpoint (always the primary) and the read-only one (replicas). */
  poolerHost?: string;
  poolerPort?: number;
  poolerReadOnlyPort?: number;
}

export async function connectionInfo(name: string, home: string): Promise<ConnectionInfo> {
  const paths = clusterPaths(name, home);
  const address = await locateCluster(name, home);
  const manifest = await loadManifest(paths.manifest);
  const view = await loadView(address);
  const leader = view.members.find((m) => m.name === view.leader?.name);
  if (leader === undefined) {
    throw new PgpilotError('State', `cluster ${name} has no primary right now`, { hint: `see \`pgpilot status ${name}\`` });
  }
  const user = manifest.spec.users[0];
  if (user === undefined) throw new PgpilotError('Config', `cluster ${name} has no application role (spec.users is empty)`);
  const dbname = manifest.spec.databases.find((d) => d.owner === user.name)?.name ?? manifest.spec.databases[0]?.name ?? 'postgres';
  const password = await readSecretFile(paths.userPassword(user.name));
  const url = new URL(leader.data.conn_url);
  const host = url.hostname;
  const port = Number(url.port || 5432);
  const uri = `postgresql://${encodeURIComponent(user.name)}:${encodeURIComponent(password)}@${host}:${port}/${encodeURIComponent(dbname)}`;
  const pooler = manifest.spec.pooler;
  const poolerHost = manifest.spec.postgres.listen === '0.0.0.0' || manifest.spec.postgres.listen === '*' ? '127.0.0.1' : manifest.spec.postgres.listen;
  const routing = pooler.enabled ? { poolerHost, poolerPort: pooler.port, poolerReadOnlyPort: pooler.port + 1 } : {};
  return { host, port, user: user.name, password, dbname, uri, ...routing };
}
