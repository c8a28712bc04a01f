// The WAL archiver's status (`<spoolDir>/archive-status.json`): written by the archiver, served by the API.

export interface RepoArchiveStatus {
  lastArchived: string | null;
  lastArchivedAt: string | null;
  failures: number;
  lastError: string | null;
}

export interface ArchiveStatus {
  lastArchived: string | null;
  lastArchivedAt: string | null;
  lastFailed: string | null;
  lastFailedAt: string | null;
  lastError: string | null;
  /** Failed pushes of a file (to one or more repositories) since the spool directory was created. */
  failures: number;
  /** Files pushed to every repository since the spool directory was created. */
  pushedCount: number;
  /** .ready files not yet pushed to every repository. */
  pending: number;
  repos: Record<string, RepoArchiveStatus>;
}
