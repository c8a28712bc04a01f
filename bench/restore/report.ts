// Writes the restore benchmark's results: restore.md (targets, tables, how each figure was measured) and restore.json.
import { parseLsn } from '../../src/model/lsn.js';
import type { RunRecord } from '../backup/harness.js';
import {
  backupRows, bytes, compare, databaseText, headLines, metricTable, num, restoreRows, seconds, settingsLines, stepsLines, table, writeResults, type Check, type Pair,
} from '../backup/report.js';
import type { RestoreRun } from '../backup/runs.js';
import type { SetupRecord } from '../backup/setup.js';
import type { PitrRun } from './recovery.js';
import { sameFingerprint, type ArchiveCopy, type Fingerprint, type WalLoad } from './wal.js';

export interface Options {
  scale: number;
  /** The least WAL the load writes, and the recovery replays, MB. */
  walMb: number;
  out: string;
  skipPgbackrest: boolean;
}

export interface RestoreResults extends RunRecord, SetupRecord {
  options: Options;
  settings: SetupRecord['settings'] & { pitrManifest: string };
  load: WalLoad | undefined;
  /** The archived segments copied from pgpilot's repository into pgBackRest's. */
  archiveCopy: ArchiveCopy | undefined;
  restore: Pair<RestoreRun>;
  pitr: Pair<PitrRun>;
}

/** The phases of a point-in-time recovery, ms (undefined when not seen). */
export interface Phases {
  /** Command start to promoted (the PostgreSQL log's `ready to accept connections`). */
  toPromoted?: number;
  files?: number;
  /** The files in place to PostgreSQL's start (pgpilot: its WAL download). */
  beforeStart?: number;
  /** PostgreSQL's start to promotion. */
  postgres?: number;
  /** The files in place to promotion: everything recovery took. */
  replay?: number;
  redo?: number;
  walBytes?: number;
}

const diff = (a: number | undefined, b: number | undefined): number | undefined => (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) ? undefined : a - b);

export function phases(run: PitrRun | undefined): Phases {
  if (run === undefined) return {};
  const l = run.log;
  const out: Phases = {};
  const set = (k: keyof Phases, v: number | undefined): void => void (v !== undefined && (out[k] = v));
  set('toPromoted', diff(l.readyAt, run.startedAt));
  set('files', diff(run.filesAt, run.startedAt));
  set('beforeStart', diff(l.startedAt, run.filesAt));
  set('postgres', diff(l.readyAt, l.startedAt));
  set('replay', diff(l.readyAt, run.filesAt));
  set('redo', diff(l.redoDone?.at, l.redoStart?.at));
  if (l.redoDone !== undefined && l.redoStart !== undefined) set('walBytes', Number(parseLsn(l.redoDone.lsn) - parseLsn(l.redoStart.lsn)));
  return out;
}

const rate = (b: number | undefined, ms: number | undefined): number | undefined => (b === undefined || ms === undefined || ms <= 0 ? undefined : b / 1e6 / (ms / 1000));
const mbps = (n: number | undefined): string => (n === undefined ? '–' : `${num(n, 1)} MB/s`);
const count = (n: number | undefined): string => (n === undefined ? '–' : String(n));

/** The point-in-time recovery table; `loadWal` is the WAL the load wrote (both replay it), for the throughputs. */
function pitrRows(p: Pair<PitrRun>, loadWal: number | undefined): Check[] {
  const a = phases(p.pgpilot);
  const b = phases(p.pgbackrest);
  return [
    compare('total: command start to a promoted server (PostgreSQL log: `database system is ready to accept connections`)', a.toPromoted, b.toPromoted, seconds),
    compare('restore of the files (pgpilot: until it creates restore-wal/; pgBackRest: the restore command)', a.files, b.files, seconds),
    compare('from the files in place to PostgreSQL\'s start (pgpilot: what it does before starting PostgreSQL, any WAL fetched first included; pgBackRest: pg_ctl)', a.beforeStart, b.beforeStart, seconds),
    compare('PostgreSQL: start to promotion (log: `starting PostgreSQL` to `ready to accept connections`)', a.postgres, b.postgres, seconds),
    compare('replay: files in place to promotion (pgpilot: its WAL fetch and PostgreSQL; pgBackRest: PostgreSQL with archive-get)', a.replay, b.replay, seconds, 1),
    compare('redo (log: `redo starts at` to `redo done at`)', a.redo, b.redo, seconds),
    compare('WAL read by recovery (LSN of `redo done at` − LSN of `redo starts at`: from the tool\'s own backup, WAL-switch padding included)', a.walBytes, b.walBytes, bytes),
    compare(`replay throughput: the load's WAL (${bytes(loadWal)}, the same for both) / replay time`, rate(loadWal, a.replay), rate(loadWal, b.replay), mbps),
    compare('redo throughput: the load\'s WAL / redo time', rate(loadWal, a.redo), rate(loadWal, b.redo), mbps),
    { ...compare('WAL files restored by restore_command (log: `restored log file`)', p.pgpilot?.log.restoredFiles, p.pgbackrest?.log.restoredFiles, count), ratio: '–' },
    compare('pgpilot: the whole command, until the new cluster is up and healthy', diff(p.pgpilot?.commandEndAt, p.pgpilot?.startedAt), undefined, seconds),
    compare('pgBackRest: promotion seen by the benchmark (pg_is_in_recovery() false, polled every 100 ms)', undefined, diff(p.pgbackrest?.promotedSeenAt, p.pgbackrest?.startedAt), seconds),
    compare('peak RSS (pgpilot: the restore CLI process; pgBackRest: restore, then archive-get processes)', p.pgpilot?.peakRssBytes, p.pgbackrest?.peakRssBytes, bytes),
  ];
}

/** Both recovered servers hold what the source held at the target, and their replay ended at the same LSN. */
function samePoint(r: RestoreResults): boolean | undefined {
  const [a, b] = [r.pitr.pgpilot, r.pitr.pgbackrest];
  if (a === undefined || b === undefined || r.load === undefined) return undefined;
  return sameFingerprint(a.recovered, r.load.atTarget) && sameFingerprint(b.recovered, r.load.atTarget) && a.log.redoDone?.lsn === b.log.redoDone?.lsn;
}

export function targetChecks(r: RestoreResults): Check[] {
  const pitr = pitrRows(r.pitr, r.load?.walBytes);
  const restore = restoreRows(r.restore, 1);
  const named = (c: Check | undefined, what: string): Check[] => (c === undefined ? [] : [{ ...c, what }]);
  const a = phases(r.pitr.pgpilot).walBytes;
  const b = phases(r.pitr.pgbackrest).walBytes;
  const least = r.options.walMb * 1e6;
  const same = samePoint(r);
  return [
    ...named(restore[1], 'restore of the full backup: time, with a `sync` after it'),
    ...named(pitr[4], 'point-in-time recovery: replay (files in place to a promoted server)'),
    {
      what: 'point-in-time recovery: WAL read by recovery', pgpilot: bytes(a), pgbackrest: bytes(b), ratio: '–', target: `≥ ${r.options.walMb} MB (both)`,
      pass: a === undefined || b === undefined ? undefined : a >= least && b >= least,
    },
    {
      what: 'point-in-time recovery: both at the target (pgbench tables as the source at the target LSN, same `redo done` LSN)',
      pgpilot: r.pitr.pgpilot?.log.redoDone?.lsn ?? '–', pgbackrest: r.pitr.pgbackrest?.log.redoDone?.lsn ?? '–', ratio: '–', target: 'same point', pass: same,
    },
  ];
}

function verification(r: RestoreResults): string {
  const at = (f: Fingerprint | undefined, k: keyof Fingerprint): string => f?.[k] ?? '–';
  const [a, b, s] = [r.pitr.pgpilot, r.pitr.pgbackrest, r.load?.atTarget];
  const row = (what: string, k: keyof Fingerprint): string[] => [what, at(s, k), at(a?.recovered, k), at(b?.recovered, k)];
  return table(['', 'source at the target', 'pgpilot', 'pgBackRest'], [
    row('pgbench_history rows (one per transaction)', 'transactions'),
    row('sum(pgbench_history.delta)', 'deltaSum'),
    row('sum(pgbench_branches.bbalance)', 'branchBalance'),
    ['recovery stopped (log)', `target LSN ${r.load?.targetLsn ?? '–'}`, a?.log.stopping?.message ?? '–', b?.log.stopping?.message ?? '–'],
    ['redo done at (log)', '', a?.log.redoDone?.message ?? '–', b?.log.redoDone?.message ?? '–'],
    ['timeline after promotion', '1', count(a?.timeline), count(b?.timeline)],
  ]);
}

function loadLines(r: RestoreResults): string[] {
  const l = r.load;
  if (l === undefined) return ['No WAL load ran.'];
  const c = r.archiveCopy;
  return [
    `\`pgbench -c 4 -j 2 -T N -n\` over TCP, ${l.runs.length} run(s) (${l.runs.map((x) => `${x.seconds.toFixed(0)} s`).join(', ')}) until at least ${r.options.walMb} MB of WAL were written: `
      + `${bytes(l.walBytes)} of WAL from ${l.startLsn} to the target ${l.targetLsn} in ${l.seconds.toFixed(0)} s, ${l.transactions} transactions (${(l.transactions / l.seconds).toFixed(0)} tps).`,
    '',
    c === undefined ? 'pgBackRest\'s archive: not filled (see the failed steps).'
      : `Archived WAL given to pgBackRest: ${c.segments} segments (${bytes(c.bytes)}), ${c.first} to ${c.last}, fetched from pgpilot's repository and \`archive-push\`ed in ${c.seconds.toFixed(0)} s (not timed).`,
  ];
}

export function renderMarkdown(r: RestoreResults): string {
  const out: string[] = headLines(r, 'Restores: pgpilot and pgBackRest 2.45, side by side', 'restore',
    `${databaseText(r, r.options.scale)}, both tools back it up and recover it from the same archived WAL`, targetChecks(r));
  out.push(
    ...settingsLines(r.settings, [
      ['pgpilot manifest of the source cluster (`pgpilot up -f` this, `--detach`)', r.settings.pgpilotManifest],
      ['pgpilot manifest of the cluster the point-in-time recovery creates (`--new-file`)', r.settings.pitrManifest],
    ], 'PostgreSQL settings of the member, which both recoveries run with (the restored postgresql.conf)'),
    '## The full backups (not the subject here)',
    '',
    metricTable(backupRows(r.full)),
    '',
    '## The WAL both recoveries replay',
    '',
    ...loadLines(r),
    '',
    '## Restore of the full backup into an empty directory',
    '',
    metricTable(restoreRows(r.restore, 1)),
    '',
    `## Point-in-time recovery: the full backup recovered to LSN ${r.load?.targetLsn ?? '–'}, ending with a promoted server`,
    '',
    metricTable(pitrRows(r.pitr, r.load?.walBytes)),
    '',
    '### Both reached the same point',
    '',
    verification(r),
    '',
    ...stepsLines(r),
    '## How each figure was measured',
    '',
    '- **Sequence** (one run, one machine, one thing at a time): `pgpilot up` (1 member) → `pgbench -i -s SCALE` over TCP → pgBackRest `stanza-create` on the member\'s data directory → pgpilot full backup → pgBackRest full backup (`--no-archive-check`) → pgbench load until the WAL is written, target LSN recorded → `pg_switch_wal()` and pgpilot\'s archive caught up → `pgpilot down` (data kept: the source is stopped for everything that follows) → the same WAL given to pgBackRest → pgpilot restore → pgBackRest restore → pgpilot point-in-time recovery (the new cluster then destroyed) → pgBackRest point-in-time recovery (then stopped) → `pgpilot down --destroy --yes`.',
    '- **Before each timed run**: the full backups as in the backup benchmark (`CHECKPOINT`, the archive caught up); every run: `sync`, drop the page cache.',
    '- **Same WAL for both**: pgpilot archives through its agent (its archive_command only waits for the wal-archiver child, which pushes into pgpilot\'s repository). pgBackRest gets the very same segments: every segment of pgpilot\'s archive from the segment of the earlier backup start (pgpilot\'s) to the end of the archive, fetched out of pgpilot\'s repository one by one (pgpilot\'s own getWal: the original 16 MiB file, its content hash checked), each pushed with `pgbackrest archive-push --no-archive-async FILE` and deleted, two at a time (which checks each segment against the stanza\'s system identifier); then pgBackRest\'s archive is checked to hold them all. Not timed.',
    `- **Target**: \`pg_current_wal_lsn()\` right after the last pgbench run; the pgbench tables at that moment (nothing writes them afterwards) are the source's fingerprint. Both recoveries use an inclusive LSN target (PostgreSQL's default), \`recovery_target_timeline=latest\` and promote at the target: pgpilot \`restore NAME --set FULL --to-new NEW --new-file M --lsn TARGET\`, pgBackRest \`restore --set=FULL --type=lsn --target=TARGET --target-action=promote\`.`,
    '- **Restore of the full backup**: `pgpilot restore NAME --set FULL --to-dir DIR` (run as root; it writes the files as postgres, and copies the WAL of the backup into pg_wal) and `pgbackrest --pg1-path=DIR --set=FULL restore` as postgres into an empty directory. Time from starting the command to its exit, and the same plus a `sync` right after it (both tools fsync every file they restore): the target is on the time with `sync`, when both have the files on disk. I/O and peak RSS as in the backup benchmark (/proc/PID/io of a shell that reaped the command; VmHWM/VmRSS sampled every 100 ms).',
    '- **Point-in-time recovery, pgpilot**: one command does it all: restore the files into the new cluster\'s member directory, fetch the WAL from the backup\'s start to the target out of its repository into `restore-wal/` beside it (2 jobs), recover in a private PostgreSQL (socket only, its `restore_command` reads from that directory) started on the files, wait for promotion, set the new cluster\'s passwords, `CHECKPOINT`, stop it, and start the new cluster (`pgpilot up`). How much WAL it fetches before starting PostgreSQL and how much while PostgreSQL replays (prefetching ahead, its restore_command waiting for each segment) is pgpilot\'s own design at the commit measured; the row "from the files in place to PostgreSQL\'s start" shows what comes first. The phases: the benchmark polls for `restore-wal/` every 20 ms and takes its creation time (birth time; pgpilot creates it once the files are restored, before fetching any WAL); the recovery\'s start, redo and promotion are the time stamps of the member\'s `postgres.log` (its first start; the new cluster appends to it later).',
    '- **Point-in-time recovery, pgBackRest**: its restore into an empty directory (as postgres; it writes `restore_command = pgbackrest ... archive-get %f "%p"` and the target), then `pg_ctl start` as postgres with `-c port=P -c listen_addresses= -c unix_socket_directories=DIR -c hba_file=(local trust) -c archive_mode=off` and otherwise the restored postgresql.conf (the same as pgpilot\'s recovery uses), then a poll every 100 ms until `pg_is_in_recovery()` is false. archive-get runs as configured above: `archive-async=y` with `process-max=2`, i.e. it prefetches segments in parallel into its spool directory (pgBackRest\'s fastest setting). The phases come from its PostgreSQL log, exactly as for pgpilot.',
    '- **Replay**: from the moment the files are in place to the PostgreSQL log\'s `database system is ready to accept connections` (after `archive recovery complete` and the promotion to a new timeline): for pgpilot its WAL fetch and its PostgreSQL\'s recovery; for pgBackRest its PostgreSQL\'s recovery with archive-get fetching. Both include PostgreSQL\'s start-up (which first fsyncs the data directory when the restored files were not synced) and the end-of-recovery checkpoint. **Replay throughput** = the WAL the load wrote (its start to the target LSN: the same records for both) / replay time; redo throughput divides it by the redo time alone (the log\'s `redo starts at` to `redo done at`). Each tool recovers from its own backup, and the two backups start two segments apart (pgpilot\'s first, then its WAL switch at the backup\'s end and a `CHECKPOINT` and WAL switch before pgBackRest\'s), so pgpilot\'s recovery reads about two more segments, nearly all switch padding: the row "WAL read by recovery" shows each one\'s distance from its redo start to the target. The target compares the replay times as they are.',
    '- **Total**: from starting the restore command to the log\'s `ready to accept connections`, for both. pgpilot\'s command goes on after that (passwords, checkpoint, stop, start of the new cluster), shown as its own row; pgBackRest\'s promotion as the benchmark\'s poll saw it is shown too.',
    '- **Same point**: after promotion, on each server, `count(*)` and `sum(delta)` of pgbench_history and `sum(bbalance)` of pgbench_branches, compared with the source\'s at the target; and each log\'s `recovery stopping after WAL location` and `redo done at` lines.',
    '- **Ratios** are pgpilot / pgBackRest; a target on a ratio passes when the ratio is at or below it. MB = 10^6 bytes, GB = 10^9.',
    '',
  );
  return out.join('\n');
}

export function writeReport(r: RestoreResults, dir: string): Promise<{ md: string; json: string }> {
  return writeResults(dir, 'restore', renderMarkdown(r), { ...r, phases: { pgpilot: phases(r.pitr.pgpilot), pgbackrest: phases(r.pitr.pgbackrest) }, checks: targetChecks(r) });
}
