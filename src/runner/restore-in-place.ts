// `pgpilot restore NAME --in-place`: stop the cluster, delta-restore its first member to a target, re-seed the others.
import fs from 'node:fs/promises';
import path from 'node:path';
import { PgpilotError, errorMessage } from '../base/errors.js';
import type { Logger } from '../base/log.js';
import { waitFor } from '../base/wait.js';
import { type RecoveryTarget, describeTarget } from '../backup/recovery-target.js';
import { restoreToDir } from '../backup/restore-to-dir.js';
import { startWalPrefetch } from '../backup/wal-prefetch.js';
import { loadManifest } from '../config/manifest.js';
import type { Manifest } from '../config/types.js';
import { ClusterStore } from '../dcs/cluster-store.js';
import { etcdKv } from '../dcs/etcd/etcd-kv.js';
import { isRoot, readSecret, resolveRunAs } from '../pg/os-user.js';
import { connect } from '../pg/query.js';
import { leaderSuperuser, loadView, locateCluster } from './cluster-access.js';
import { down } from './down.js';
import { clusterPaths, memberName } from './layout.js';
import { reseedReplica } from './reseed-replica.js';
import { exists, planRecovery, recover, setPasswords, sourceRepo } from './restore-new.js';
import { up, type UpResult } from './up.js';

export interface RestoreInPlaceRequest {
  name: string;
  repo: string | undefined;
  set: string | undefined;
  target: RecoveryTarget;
  home: string;
  log: Logger;
}

export interface RestoreInPlaceResult {
  backup: string;
  /** Files the delta restore wrote, of all the backup holds; files it removed. */
  written: number;
  files: number;
  removed: number;
  recoveredTo: { timeline: number; lsn: string };
  /** The other members brought along by a delta restore (files written of those the backup holds); the rest clone. */
  reseeded: { member: string; written: number; files: number }[];
  up: UpResult;
}

/**
 * The recipe: check everything; archive the current WAL so the state before stays restorable; stop every member;
 * delta-restore the first member and recover it to the target on a new timeline; re-seed the other members by a
 * delta restore and replay up to there (or empty them to clone); start the cluster again.
 */
export async function restoreInPlace(req: RestoreInPlaceRequest): Promise<RestoreInPlaceResult> {
  const paths = clusterPaths(req.name, req.home);
  const manifest = await loadManifest(paths.manifest);
  const spec = sourceRepo(manifest, req.repo);
  // The state before the restore stays restorable: its last WAL reaches the archive before anything stops (and the
  // checks below see the archive up to now).
  await prepareSource(req, paths.superuserPassword);
  const plan = await planRecovery(spec, req.target, req.set, new Date(), req.log);
  await down(req.name, req.home, { destroy: false });
  const first = paths.member(memberName(req.name, 0));
  const owner = isRoot() ? await resolveRunAs('postgres') : undefined;
  const restored = await restoreToDir({ repo: plan.repo, label: plan.backup.label, dir: first.dataDir, jobs: manifest.spec.backup.jobs, log: req.log, delta: true, ...(owner === undefined ? {} : { owner }) });
  const walDir = path.join(first.dir, 'restore-wal');
  const prefetch = await startWalPrefetch(plan.repo, plan.chain, walDir, manifest.spec.backup.jobs, owner);
  const recoveredTo = await recover({ dataDir: first.dataDir, socketDir: first.socketDir, logFile: first.postgresLog, prefetch, target: plan.target, owner, log: req.log }, (client) => setPasswords(client, paths, manifest));
  await fs.rm(walDir, { recursive: true, force: true });
  // The other members' data lives on a history the cluster has left: each gets the same backup by a delta restore
  // and replays to the new primary's end; one that fails is emptied and clones the new primary when the cluster starts.
  const reseeded: RestoreInPlaceResult['reseeded'] = [];
  for (let i = 1; i < manifest.spec.instances; i++) {
    const name = memberName(req.name, i);
    const m = paths.member(name);
    if (!(await exists(path.join(m.dataDir, 'PG_VERSION')))) continue;
    try {
      const member = { dataDir: m.dataDir, socketDir: m.socketDir, logFile: m.postgresLog };
      const r = await reseedReplica({ repo: plan.repo, label: plan.backup.label, chain: plan.chain, primary: { dataDir: first.dataDir, ...recoveredTo }, member, jobs: manifest.spec.backup.jobs, owner, log: req.log });
      reseeded.push({ member: name, ...r });
      req.log.info('member re-seeded by a delta restore', { member: name, written: r.written, files: r.files });
    } catch (e) {
      req.log.warn('delta re-seed failed: the member clones the new primary when the cluster starts', { member: name, error: errorMessage(e) });
      await fs.rm(m.dataDir, { recursive: true, force: true });
    }
  }
  // The DCS remembers positions the cluster will not reach again (a member that far behind is never promoted): the
  // cluster starts its DCS state afresh, the first member bootstrapping from its restored data directory.
  await forgetDcsState(req.name, req.home, manifest);
  await fs.writeFile(paths.restoredMarker, JSON.stringify({ repo: spec.name, backup: plan.backup.label, target: describeTarget(plan.target), recoveredTo, inPlace: true, at: new Date().toISOString() }, null, 2));
  req.log.info('restored in place', { backup: plan.backup.label, target: describeTarget(plan.target), written: restored.written, removed: restored.removed });
  // `up` copies the manifest it is given into the cluster's directory: hand it a copy of the one already there.
  const manifestCopy = path.join(paths.dir, 'manifest.restore.yaml');
  await fs.copyFile(paths.manifest, manifestCopy);
  try {
    return { backup: plan.backup.label, written: restored.written, files: restored.files, removed: restored.removed, recoveredTo, reseeded, up: await up(manifestCopy, req.home) };
  } finally {
    await fs.rm(manifestCopy, { force: true });
  }
}

async function forgetDcsState(name: string, home: string, manifest: Manifest): Promise<void> {
  if (manifest.spec.dcs.endpoints.length === 0) {
    // The private etcd holds this cluster only, and it is stopped: its data goes.
    await fs.rm(clusterPaths(name, home).etcdDir, { recursive: true, force: true });
    return;
  }
  const kv = etcdKv({ endpoints: manifest.spec.dcs.endpoints });
  try {
    await new ClusterStore(kv, manifest.spec.dcs.namespace, name).forget();
  } finally {
    await kv.close();
  }
}

/**
 * On the running primary: refuses an xid target that has not started yet; commits an empty transaction, so any time
 * target up to now has a commit after it to stop at (an idle database has none); switches WAL and waits until
 * PostgreSQL reports the segment archived. A cluster that is down cannot archive: its WAL after the last archived
 * segment is lost by the restore, which the log says.
 */
async function prepareSource(req: RestoreInPlaceRequest, passwordFile: string): Promise<void> {
  const view = await loadView(await locateCluster(req.name, req.home)).catch(() => undefined);
  const primary = view === undefined ? undefined : leaderSuperuser(view);
  if (primary === undefined) {
    req.log.warn('no running primary: WAL written after the last archived segment cannot be archived first and is lost by the restore', { cluster: req.name });
    return;
  }
  const client = await connect({ ...primary, password: await readSecret(passwordFile) });
  try {
    const target = req.target;
    if (target.kind === 'xid') {
      const next = BigInt((await client.query<{ x: string }>("SELECT (pg_snapshot_xmax(pg_current_snapshot()))::text AS x")).rows[0]?.x ?? '0');
      if (target.xid >= next) throw new PgpilotError('Backup', `cannot restore to transaction ${target.xid}: it has not started yet (the next transaction is ${next})`, { hint: 'give the xid of a transaction that committed (txid_current() in it)' });
    }
    await client.query('SELECT pg_current_xact_id()');
    const segment = (await client.query<{ w: string }>('SELECT pg_walfile_name(pg_switch_wal()) AS w')).rows[0]?.w ?? '';
    await waitFor(`WAL segment ${segment} to be archived`, async () => {
      const r = (await client.query<{ last: string | null }>('SELECT last_archived_wal AS last FROM pg_stat_archiver')).rows[0];
      return (r?.last ?? '') >= segment;
    }, { timeoutMs: 120_000, intervalMs: 250 });
  } finally {
    await client.end();
  }
}
