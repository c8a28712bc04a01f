// Worker thread of the WAL scan between two backups: reads one part of the WAL (from pg_wal or the archive) and
// returns what its records changed.
import { openRepoRef } from './repo.js';
import { type WalSource, walLoader } from './wal-changes.js';
import { type ScanPart, type WalChanges, scanPart } from './wal-records.js';
import { serveWorker } from './worker-pool.js';

serveWorker<WalSource, ScanPart, WalChanges>(async (source) => {
  const load = walLoader(await openRepoRef(source.repo), source);
  return { handle: (part) => scanPart(part, load), finish: () => Promise.resolve(undefined) };
});
