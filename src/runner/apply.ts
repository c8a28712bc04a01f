// `pgpilot apply`: changes a running local cluster to match a manifest (instances, parameters, HA timings).
import fs from 'node:fs/promises';
import { isDeepStrictEqual } from 'node:util';
import { PgpilotError } from '../base/errors.js';
import { apiClient } from '../client/api-client.js';
import { loadManifest } from '../config/manifest.js';
import type { Manifest } from '../config/types.js';
import { synchronousConfig } from '../ha/act-context.js';
import type { ClusterStatus } from '../model/status.js';
import { loadView, memberApiUrl } from './cluster-access.js';
import { clusterPaths, memberName } from './layout.js';
import { signalPid } from './processes.js';
import { readSecretFile } from './secrets.js';
import { processAlive, readState } from './state.js';
import { waitHealthy } from './up.js';

/** Fields `apply` cannot change on a running cluster, with what to do instead. */
const fixedFields: Array<[string, (m: Manifest) => unknown]> = [
  ['spec.postgres.port', (m) => m.spec.postgres.port],
  ['spec.postgres.listen', (m) => m.spec.postgres.listen],
  ['spec.api', (m) => m.spec.api],
  ['spec.dcs', (m) => m.spec.dcs],
  ['spec.users', (m) => m.spec.users],
  ['spec.databases', (m) => m.spec.databases],
  ['spec.pooler', (m) => m.spec.pooler],
  ['spec.backup', (m) => m.spec.backup],
  // A member's agent config is written once, when it is added: running agents would never see a change.
  ['spec.ha.replicaMethods', (m) => m.spec.ha.replicaMethods],
];

export async function apply(file: string, home: string): Promise<{ changes: string[]; status: ClusterStatus }> {
  const next = await loadManifest(file);
  const name = next.metadata.name;
  const paths = clusterPaths(name, home);
  const state = await readState(paths.state);
  if (state === undefined || !processAlive(state.supervisorPid)) {
    throw new PgpilotError('State', `cluster ${name} is not running under ${home}`, { hint: `start it with \`pgpilot up -f ${file}\`` });
  }
  const current = await loadManifest(paths.manifest);
  const fixed = fixedFields.filter(([, get]) => !isDeepStrictEqual(get(current), get(next))).map(([path]) => path);
  if (fixed.length > 0) {
    throw new PgpilotError('Config', `${file}: ${fixed.join(', ')} cannot change on a running cluster`, {
      hint: 'keep these as they are, or stop the cluster (`pgpilot down`) and start it with the new manifest',
    });
  }
  const address = { name, endpoints: state.dcsEndpoints, namespace: state.namespace, home };
  const changes: string[] = [];
  // Parameters and HA timings live in the DCS config: patch it through the leader's API.
  const patch = configPatch(current, next);
  if (patch !== undefined) {
    const view = await loadView(address);
    const leader = view.leader?.name;
    if (leader === undefined) throw new PgpilotError('State', `cluster ${name} has no leader to apply the configuration through`);
    const token = await readSecretFile(paths.apiToken);
    await apiClient({ baseUrl: memberApiUrl(view, leader), token }).patchConfig(patch);
    changes.push('configuration updated: members reload it (see `pgpilot status` for members pending a restart)');
  }
  await fs.copyFile(file, paths.manifest);
  if (current.spec.instances !== next.spec.instances || current.spec.local.restart !== next.spec.local.restart) {
    signalPid(state.supervisorPid, 'SIGHUP');
    if (current.spec.instances !== next.spec.instances) changes.push(`instances: ${current.spec.instances} -> ${next.spec.instances}`);
    if (current.spec.local.restart !== next.spec.local.restart) changes.push(`local.restart: ${current.spec.local.restart} -> ${next.spec.local.restart}`);
  }
  const members = Array.from({ length: next.spec.instances }, (_, i) => memberName(name, i));
  const status = await waitHealthy(address, members, () => processAlive(state.supervisorPid), paths);
  return { changes, status };
}

/** JSON merge patch of the DCS config taking `from` to `to`; undefined when nothing changed. */
export function configPatch(from: Manifest, to: Manifest): Record<string, unknown> | undefined {
  const patch: Record<string, unknown> = {};
  const params: Record<string, unknown> = {};
  const a = from.spec.postgres.parameters;
  const b = to.spec.postgres.parameters;
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (a[key] !== b[key]) params[key] = b[key] ?? null;
  }
  if (Object.keys(params).length > 0) patch['postgresql'] = { parameters: params };
  const ha: Array<[string, number, number]> = [
    ['ttl', from.spec.ha.ttl, to.spec.ha.ttl],
    ['loop_wait', from.spec.ha.loopWait, to.spec.ha.loopWait],
    ['retry_timeout', from.spec.ha.retryTimeout, to.spec.ha.retryTimeout],
    ['maximum_lag_on_failover', from.spec.ha.maximumLagOnFailover, to.spec.ha.maximumLagOnFailover],
  ];
  for (const [key, before, after] of ha) if (before !== after) patch[key] = after;
  if (!isDeepStrictEqual(from.spec.synchronous, to.spec.synchronous)) Object.assign(patch, synchronousConfig(to.spec.synchronous));
  return Object.keys(patch).length > 0 ? patch : undefined;
}
