// Data-directory paths for backup: what to skip, which are relation files, which dirs a restore recreates.

/** exclude: not backed up; relation: a WAL-logged relation fork file (checksummed pages); other: copied as is. */
export type PathClass = 'exclude' | 'relation' | 'other';

/** Directories whose contents PostgreSQL's base backup skips (basebackup.c excludeDirContents, plus pg_wal). */
const excludedContents = new Set([
  'pg_wal',
  'pg_replslot',
  'pg_dynshmem',
  'pg_notify',
  'pg_serial',
  'pg_snapshots',
  'pg_stat_tmp',
  'pg_subtrans',
]);

/**
 * Top-level files a backup skips: basebackup.c excludeFiles, the .old names recovery leaves behind, the log
 * collector's current_logfiles, and the signal files (restore writes the one its target needs: a backup taken on a
 * standby must not turn the restored server into a standby by accident).
 */
const excludedRootFiles = new Set([
  'postmaster.pid',
  'postmaster.opts',
  'postgresql.auto.conf.tmp',
  'current_logfiles',
  'current_logfiles.tmp',
  'backup_label',
  'backup_label.old',
  'tablespace_map',
  'tablespace_map.old',
  'backup_manifest',
  'recovery.signal',
  'standby.signal',
]);

/**
 * Directories a restored data directory must have although the backup may hold no file in them: those whose
 * contents are skipped, and those PostgreSQL needs that are often empty. Parents come before children; creating one
 * that exists is harmless.
 */
export const emptyDirsToRecreate: readonly string[] = [
  'pg_wal',
  'pg_wal/archive_status',
  'pg_replslot',
  'pg_dynshmem',
  'pg_notify',
  'pg_serial',
  'pg_snapshots',
  'pg_stat_tmp',
  'pg_subtrans',
  'pg_commit_ts',
  'pg_logical',
  'pg_logical/snapshots',
  'pg_logical/mappings',
  'pg_stat',
  'pg_tblspc',
  'pg_twophase',
];

const digits = /^\d+$/;

/** global/, base/<db oid>/ or pg_tblspc/<tablespace oid>/PG_<major>_<catalog version>/<db oid>/. */
function isRelationDir(dir: readonly string[]): boolean {
  const [a, b, c, d] = dir;
  if (dir.length === 1) return a === 'global';
  if (dir.length === 2) return a === 'base' && digits.test(b ?? '');
  return dir.length === 4 && a === 'pg_tblspc' && digits.test(b ?? '') && /^PG_\d+_\d+$/.test(c ?? '') && digits.test(d ?? '');
}

/** Whether `rel` is the init fork of an unlogged relation (e.g. base/5/16500_init). */
export function isInitFork(rel: string): boolean {
  const parts = rel.split('/');
  return isRelationDir(parts.slice(0, -1)) && /^\d+_init$/.test(parts.at(-1) ?? '');
}

/**
 * Classifies a path relative to the data directory ('/'-separated; files and directories alike). `initForks` holds
 * the paths of the init forks present (see isInitFork): the other forks of those unlogged relations are skipped,
 * since recovery rebuilds them from the init fork. Free space maps are 'other': their pages are not WAL-logged
 * reliably, so their checksums may be stale.
 */
export function classifyPath(rel: string, initForks: ReadonlySet<string> = new Set()): PathClass {
  const parts = rel.split('/');
  const name = parts.at(-1) ?? '';
  const dir = parts.slice(0, -1);
  if (parts.some((p) => p.startsWith('pgsql_tmp')) || name.startsWith('pg_internal.init')) return 'exclude';
  if (dir.length === 0) return excludedRootFiles.has(name) ? 'exclude' : 'other';
  if (excludedContents.has(parts[0] ?? '')) return rel === 'pg_wal/archive_status' ? 'other' : 'exclude';
  if (!isRelationDir(dir)) return 'other';
  if (/^t\d+_\d+/.test(name)) return 'exclude'; // a temporary relation
  const m = /^(\d+)(?:_(fsm|vm|init))?(?:\.\d+)?$/.exec(name);
  if (m === null) return 'other';
  if (m[2] !== 'init' && initForks.has(`${dir.join('/')}/${m[1] ?? ''}_init`)) return 'exclude';
  return m[2] === 'fsm' ? 'other' : 'relation';
}
