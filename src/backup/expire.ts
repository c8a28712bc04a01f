// Expiry: removes the backups a repository's retention policy no longer keeps, then the WAL no kept backup needs.
import type { Logger } from '../base/log.js';
import type { BackupRepoSpec } from '../config/types.js';
import { manifestPath } from './backup-manifest.js';
import { type CatalogEntry, listCatalog } from './catalog.js';
import { type ExpireReason, type RetainedBackup, decideExpiry, walToRemove } from './retention.js';
import type { Repo } from './repo.js';
import { listWal } from './wal-archive.js';

export interface ExpireSummary {
  repo: string;
  expired: { label: string; reason: ExpireReason }[];
  walRemoved: number;
  keepWalFrom: string | undefined;
}

/** A running backup has no start segment yet: it sorts after every real one, so it never lowers the WAL cutoff. */
const NOT_STARTED_WAL = 'FFFFFFFFFFFFFFFFFFFFFFFF';

function retained(e: CatalogEntry): RetainedBackup {
  if (e.status === 'complete') {
    const m = e.manifest;
    return {
      label: m.label,
      type: m.type,
      status: 'complete',
      ...(m.reference === undefined ? {} : { reference: m.reference }),
      startTime: new Date(m.startTime),
      stopTime: new Date(m.stopTime),
      startWal: m.startWal,
    };
  }
  const s = e.started;
  return {
    label: e.label,
    type: s?.type ?? 'full',
    status: 'incomplete',
    ...(s?.reference === undefined ? {} : { reference: s.reference }),
    startTime: s === undefined ? new Date(0) : new Date(s.startTime),
    startWal: NOT_STARTED_WAL,
  };
}

export async function expireRepo(repo: Repo, spec: BackupRepoSpec, now: Date, log: Logger): Promise<ExpireSummary> {
  const catalog = await listCatalog(repo.storage);
  const decision = decideExpiry(catalog.map(retained), { full: spec.retention.full, fullType: spec.retention.fullType, diff: spec.retention.diff }, now);
  // The manifest goes first: a removal cut short leaves an incomplete backup, never a complete one missing files.
  for (const { label, reason } of decision.expire) {
    await repo.storage.remove(manifestPath(label));
    await repo.storage.removeTree(`backup/${label}/`);
    log.info('backup expired', { repo: repo.name, label, reason });
  }
  const hasComplete = catalog.some((e) => e.status === 'complete' && !decision.expire.some((x) => x.label === e.label));
  let walRemoved = 0;
  if (hasComplete && decision.keepWalFrom !== undefined && decision.keepWalFrom !== NOT_STARTED_WAL) {
    const wal = await listWal(repo);
    const remove = new Set(walToRemove(wal.map((w) => w.name), decision.keepWalFrom));
    for (const w of wal) {
      if (!remove.has(w.name)) continue;
      await repo.storage.remove(w.path);
      walRemoved += 1;
    }
    if (walRemoved > 0) log.info('archived WAL expired', { repo: repo.name, removed: walRemoved, keepFrom: decision.keepWalFrom });
  }
  return { repo: repo.name, expired: decision.expire, walRemoved, keepWalFrom: decision.keepWalFrom };
}
