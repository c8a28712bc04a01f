// The JSON shapes of backups and dumps as `pgpilot backups` and GET /backups show them.
import type { BackupEntry } from '../api/jobs.js';
import type { BackupManifest } from '../backup/backup-manifest.js';
import type { CatalogEntry } from '../backup/catalog.js';

export type BackupSummary = BackupEntry;

export function summarizeManifest(m: BackupManifest): BackupSummary {
  return {
    label: m.label,
    type: m.type,
    status: 'complete',
    startTime: m.startTime,
    stopTime: m.stopTime,
    startLsn: m.startLsn,
    stopLsn: m.stopLsn,
    timeline: m.timeline,
    databaseSize: m.databaseSize,
    storedSize: m.storedSize,
    reference: m.reference ?? null,
    checksumErrors: m.checksumErrors.length,
    encrypted: m.encrypted,
    compress: m.compress.type,
    member: m.member,
  };
}

export function summarizeEntry(e: CatalogEntry): BackupSummary {
  if (e.status === 'complete') return summarizeManifest(e.manifest);
  return {
    label: e.label,
    type: e.started?.type ?? 'full',
    status: 'incomplete',
    startTime: e.started?.startTime ?? null,
    stopTime: null,
    startLsn: null,
    stopLsn: null,
    timeline: null,
    databaseSize: null,
    storedSize: null,
    reference: e.started?.reference ?? null,
    checksumErrors: 0,
    encrypted: null,
    compress: null,
    member: e.started?.member ?? null,
  };
}
