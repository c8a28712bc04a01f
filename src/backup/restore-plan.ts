// Plans a restore (pure): for every file of the target backup, the stored object with its base content and the deltas on top.
import { AssertionFailure } from '../base/errors.js';
import type { BackupManifest, FileEntry } from './backup-manifest.js';
import type { CompressType } from './codec/compress.js';

/** Where some stored bytes are: a whole object, or a slice of a bundle object. */
export interface Source {
  label: string;
  object: string;
  offset?: number;
  storedSize: number;
  compress: { type: CompressType; level: number };
}

export interface FilePlan {
  path: string;
  size: number;
  mode: number;
  /** Absent when the backup did not read the file whole (a delta found from the WAL). */
  sha256: string | undefined;
  /** The file's content as first stored; undefined for an empty file. */
  base: Source | undefined;
  /** Page deltas to apply in order. */
  deltas: (Source & { deltaSha256: string })[];
}

/** Resolves each file of `target` through its chain; `manifests` holds every backup of the chain by label. */
export function planRestore(target: BackupManifest, manifests: ReadonlyMap<string, BackupManifest>): FilePlan[] {
  const index = new Map<string, Map<string, FileEntry>>();
  const filesOf = (label: string): Map<string, FileEntry> => {
    let m = index.get(label);
    if (m === undefined) {
      const manifest = manifests.get(label);
      if (manifest === undefined) throw new AssertionFailure(`backup ${label} of the chain of ${target.label} was not loaded`);
      m = new Map(manifest.files.map((f) => [f.path, f]));
      index.set(label, m);
    }
    return m;
  };
  const compressOf = (label: string): Source['compress'] => (manifests.get(label) as BackupManifest).compress;
  const resolve = (label: string, path: string, depth: number): Pick<FilePlan, 'base' | 'deltas'> => {
    if (depth > 1000) throw new AssertionFailure(`reference loop for ${path} at ${label}`);
    const entry = filesOf(label).get(path);
    if (entry === undefined) throw new AssertionFailure(`${path} is referenced from backup ${label}, which does not hold it`);
    const s = entry.store;
    const at = (object: string, storedSize: number, offset?: number): Source => ({
      label,
      object,
      storedSize,
      compress: compressOf(label),
      ...(offset === undefined ? {} : { offset }),
    });
    switch (s.kind) {
      case 'empty':
        return { base: undefined, deltas: [] };
      case 'file':
        return { base: at(s.object, s.storedSize), deltas: [] };
      case 'bundle':
        return { base: at(s.object, s.storedSize, s.offset), deltas: [] };
      case 'same':
        return resolve(s.base, path, depth + 1);
      case 'delta': {
        const below = resolve(s.base, path, depth + 1);
        return { base: below.base, deltas: [...below.deltas, { ...at(s.object, s.storedSize, s.offset), deltaSha256: s.deltaSha256 }] };
      }
    }
  };
  return target.files.map((f) => ({ path: f.path, size: f.size, mode: f.mode, sha256: f.sha256, ...resolve(target.label, f.path, 0) }));
}
