// Lists a repository's backups: complete ones from their manifests, interrupted ones from what they left behind.
import type { Storage } from '../storage/storage.js';
import { type BackupManifest, type BackupType, readManifest } from './backup-manifest.js';
import { isLabel } from './labels.js';

export const startedPath = (label: string): string => `backup/${label}/backup.started`;

/** What `backup.started` holds: written before any data, so an interrupted backup is still listed as such. */
export interface StartedMarker {
  label: string;
  type: BackupType;
  reference?: string;
  startTime: string;
  member: string;
}

export type CatalogEntry =
  | { status: 'complete'; label: string; manifest: BackupManifest }
  | { status: 'incomplete'; label: string; started: StartedMarker | undefined };

/** Every backup in the repository, oldest first (labels sort by time). */
export async function listCatalog(storage: Storage): Promise<CatalogEntry[]> {
  const objects = await storage.list('backup/');
  const labels = [...new Set(objects.map((o) => o.path.split('/')[1] ?? ''))].filter(isLabel).sort(byTime);
  const entries: CatalogEntry[] = [];
  for (const label of labels) {
    const manifest = await readManifest(storage, label);
    if (manifest !== undefined) {
      entries.push({ status: 'complete', label, manifest });
      continue;
    }
    entries.push({ status: 'incomplete', label, started: await readStarted(storage, label) });
  }
  return entries;
}

/** The complete backups, oldest first. */
export async function completeBackups(storage: Storage): Promise<BackupManifest[]> {
  return (await listCatalog(storage)).flatMap((e) => (e.status === 'complete' ? [e.manifest] : []));
}

async function readStarted(storage: Storage, label: string): Promise<StartedMarker | undefined> {
  try {
    return JSON.parse((await storage.readBuffer(startedPath(label))).toString('utf8')) as StartedMarker;
  } catch {
    return undefined;
  }
}

/** Orders labels by the time of the backup itself (the part after a diff or incr's full label). */
function byTime(a: string, b: string): number {
  const ta = a.slice(-16);
  const tb = b.slice(-16);
  return ta < tb ? -1 : ta > tb ? 1 : 0;
}
