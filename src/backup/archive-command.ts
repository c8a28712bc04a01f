// PostgreSQL's archive_command: it pushes nothing, it waits for the WAL archiver's done marker of the file.
import path from 'node:path';

/** How long archive_command waits for the marker before failing (PostgreSQL then retries): 300 × 0.1 s. */
const WAIT_STEPS = 300;

/** The directory of the done markers inside the spool directory. */
export function doneDir(spoolDir: string): string {
  return path.join(spoolDir, 'done');
}

/** A word quoted for sh: inside single quotes, each ' written as '\''. */
function shellQuote(word: string): string {
  return `'${word.replace(/'/g, "'\\''")}'`;
}

/**
 * The archive_command for a spool directory: succeeds as soon as `<spoolDir>/done/%f` exists, fails after 30 s.
 * `%` in the path is doubled, since PostgreSQL expands %f, %p, %r and %% in the command; quoting for
 * postgresql.conf is left to the caller (pg/conf.ts quotes every string value).
 */
export function archiveCommand(spoolDir: string): string {
  const marker = `${shellQuote(`${doneDir(path.resolve(spoolDir))}/`).replace(/%/g, '%%')}%f`;
  return `for i in $(seq 1 ${WAIT_STEPS}); do test -f ${marker} && exit 0; sleep 0.1; done; `
    + `echo "pgpilot: WAL file %f is not archived yet, see the wal-archiver log" >&2; exit 1`;
}
