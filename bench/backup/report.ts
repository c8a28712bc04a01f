// Writes the backup benchmark's results: bench/results/backup.md (environment, targets, one table per metric with
// both tools, ratio, target and verdict, how each figure was measured) and backup.json (every raw figure).
import fs from 'node:fs/promises';
import path from 'node:path';
import type { RunRecord, Verdict } from './harness.js';
import type { BackupRun, RestoreRun } from './runs.js';
import type { SetupRecord } from './setup.js';
import { peakOf, type BusyProcess, type Io, type Watched } from './sample.js';
import type { ArchiveRun, PgbenchRun } from './workload.js';

export interface Options {
  scale: number;
  transactions: number;
  archiveSeconds: number;
  out: string;
  skipPgbackrest: boolean;
}

export interface Pair<T> {
  pgpilot?: T | undefined;
  pgbackrest?: T | undefined;
}

export type ArchiveResult = ArchiveRun & { archiver: Watched; status?: Record<string, unknown> };

export interface BackupResults extends RunRecord, SetupRecord {
  options: Options;
  /** The pgbench run between the full and the incremental backups. */
  load: PgbenchRun | undefined;
  incr: Pair<BackupRun>;
  restore: Pair<RestoreRun>;
  archive: Pair<ArchiveResult>;
}

/** One compared figure: both tools' values, their ratio, and the target and verdict when there is one. */
export type Check = Verdict;

const MB = 1e6;
const esc = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function table(head: string[], rows: string[][]): string {
  return [`| ${head.map(esc).join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`)].join('\n');
}

export function bytes(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return '–';
  if (Math.abs(n) >= 1e9) return `${(n / 1e9).toFixed(2)} GB`;
  if (Math.abs(n) >= MB) return `${(n / MB).toFixed(1)} MB`;
  return `${(n / 1e3).toFixed(0)} kB`;
}

export const seconds = (ms: number | undefined): string => (ms === undefined ? '–' : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`);
export const num = (n: number | undefined, digits = 0): string => (n === undefined || !Number.isFinite(n) ? '–' : n.toFixed(digits));
export const verdict = (pass: boolean | undefined): string => (pass === undefined ? 'NOT MEASURED' : pass ? 'PASS' : 'FAIL');

function ratioOf(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined || b === undefined || b === 0 ? undefined : a / b;
}

/** A row comparing one figure: pgpilot, pgBackRest, their ratio, and the target on the ratio when there is one. */
export function compare(what: string, a: number | undefined, b: number | undefined, fmt: (n: number | undefined) => string, maxRatio?: number): Check {
  const r = ratioOf(a, b);
  return {
    what, pgpilot: fmt(a), pgbackrest: fmt(b), ratio: r === undefined ? '–' : r.toFixed(2),
    target: maxRatio === undefined ? '–' : `ratio ≤ ${maxRatio.toFixed(2)}`,
    pass: maxRatio === undefined ? undefined : r === undefined ? undefined : r <= maxRatio,
  };
}

const reportedNumber = (run: BackupRun | undefined, ...keys: string[]): number | undefined => {
  let v: unknown = run?.reported;
  for (const k of keys) v = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[k] : undefined;
  return typeof v === 'number' ? v : undefined;
};

export function ioRows(a: Io | undefined, b: Io | undefined): Check[] {
  return [
    compare('read from storage (/proc io read_bytes)', a?.readBytes, b?.readBytes, bytes),
    compare('written to storage (/proc io write_bytes)', a?.writeBytes, b?.writeBytes, bytes),
    compare('bytes passed to read() (/proc io rchar)', a?.rchar, b?.rchar, bytes),
    compare('bytes passed to write() (/proc io wchar)', a?.wchar, b?.wchar, bytes),
  ];
}

/** The rows of a backup table; `targets` (on the time and size ratios) when the backup has them. */
export function backupRows(p: Pair<BackupRun>, targets?: { time: number; size: number }): Check[] {
  return [
    compare('time (command start to exit)', p.pgpilot?.wallMs, p.pgbackrest?.wallMs, seconds, targets?.time),
    compare('stored: the backup\'s directory in the repository', p.pgpilot?.dirBytes, p.pgbackrest?.dirBytes, bytes, targets?.size),
    compare('stored, as the tool reports it (pgpilot storedSize; pgBackRest repository delta)', reportedNumber(p.pgpilot, 'storedSize'), reportedNumber(p.pgbackrest, 'info', 'repository', 'delta'), bytes),
    compare('database size the backup covers (pgpilot databaseSize; pgBackRest size)', reportedNumber(p.pgpilot, 'databaseSize'), reportedNumber(p.pgbackrest, 'info', 'size'), bytes),
    compare('data copied, as the tool reports it (pgpilot readSize; pgBackRest delta)', reportedNumber(p.pgpilot, 'readSize'), reportedNumber(p.pgbackrest, 'info', 'delta'), bytes),
    compare('backup duration, as pgpilot reports it (durationMs, in the job)', reportedNumber(p.pgpilot, 'durationMs'), undefined, seconds),
    ...ioRows(p.pgpilot?.io, p.pgbackrest?.io),
    compare('peak RSS', p.pgpilot?.peakRssBytes, p.pgbackrest?.peakRssBytes, bytes),
  ];
}

/** The rows of a restore table; `maxRatio` is the target on the time with `sync` when there is one. */
export function restoreRows(p: Pair<RestoreRun>, maxRatio?: number): Check[] {
  const withSync = (r: RestoreRun | undefined): number | undefined => (r === undefined ? undefined : r.wallMs + r.syncMs);
  return [
    compare('time (command start to exit)', p.pgpilot?.wallMs, p.pgbackrest?.wallMs, seconds),
    compare('time including a `sync` right after', withSync(p.pgpilot), withSync(p.pgbackrest), seconds, maxRatio),
    compare('restored directory', p.pgpilot?.restoredBytes, p.pgbackrest?.restoredBytes, bytes),
    ...ioRows(p.pgpilot?.io, p.pgbackrest?.io),
    compare('peak RSS', p.pgpilot?.peakRssBytes, p.pgbackrest?.peakRssBytes, bytes),
  ];
}

function archiveRows(p: Pair<ArchiveResult>): Check[] {
  const a = p.pgpilot;
  const b = p.pgbackrest;
  const segs = (n: number | undefined): string => (n === undefined ? '–' : `${n}`);
  const behind = compare('complete segments not yet archived when the load ends (pg_stat_archiver)', a?.end.behind, b?.end.behind, segs);
  return [
    { ...behind, ratio: '–', target: '≤ 2 (pgpilot)', pass: a === undefined ? undefined : a.end.behind <= 2 },
    { ...compare('same, counted in the repository (segments stored with no gap)', a?.end.behindRepo, b?.end.behindRepo, segs), ratio: '–' },
    { ...compare('most segments behind during the load (sampled every second)', a?.maxBehind, b?.maxBehind, segs), ratio: '–' },
    compare('seconds from the end of the load until nothing is behind', a?.catchUpSeconds === undefined ? undefined : a.catchUpSeconds * 1000, b?.catchUpSeconds === undefined ? undefined : b.catchUpSeconds * 1000, seconds),
    compare('WAL written during the load', a?.walBytes, b?.walBytes, bytes),
    compare('WAL segments (16 MiB) per second', a === undefined ? undefined : a.walBytes / 16_777_216 / a.load.seconds, b === undefined ? undefined : b.walBytes / 16_777_216 / b.load.seconds, (n) => num(n, 1)),
    compare('pgbench transactions per second', a?.load.tps, b?.load.tps, (n) => num(n, 0)),
    { ...compare('failed archive_command runs', a?.failedCount, b?.failedCount, segs), ratio: '–' },
    compare('peak RSS of the archiving processes (pgpilot wal-archiver; pgBackRest archive-push and its async process)',
      a === undefined ? undefined : peakOf(a.archiver), b === undefined ? undefined : peakOf(b.archiver), bytes),
  ];
}

/** The pgpilot processes whose peak RSS the 200 MB target applies to, with their peaks. */
export function pgpilotPeaks(r: BackupResults): Array<{ what: string; bytes: number }> {
  const out: Array<{ what: string; bytes: number }> = [];
  if (r.full.pgpilot !== undefined) out.push({ what: 'full backup job', bytes: r.full.pgpilot.peakRssBytes });
  if (r.incr.pgpilot !== undefined) out.push({ what: 'incremental backup job', bytes: r.incr.pgpilot.peakRssBytes });
  if (r.restore.pgpilot !== undefined) out.push({ what: 'restore (the CLI process)', bytes: r.restore.pgpilot.peakRssBytes });
  const arch = r.archive.pgpilot?.archiver;
  if (arch !== undefined) out.push({ what: 'WAL archiver under load', bytes: peakOf(arch) });
  return out;
}

export function targetChecks(r: BackupResults): Check[] {
  const full = backupRows(r.full, { time: 1, size: 1 });
  const incr = backupRows(r.incr, { time: 0.3, size: 0.3 });
  const archive = archiveRows(r.archive);
  const peaks = pgpilotPeaks(r);
  const peak = peaks.length === 0 ? undefined : Math.max(...peaks.map((p) => p.bytes));
  const named = (c: Check | undefined, what: string): Check[] => (c === undefined ? [] : [{ ...c, what }]);
  return [
    ...named(full[0], 'full backup: time'),
    ...named(full[1], 'full backup: stored size'),
    ...named(incr[0], 'incremental backup: time'),
    ...named(incr[1], 'incremental backup: stored size'),
    ...named(archive[0], `WAL archive: segments behind after ${r.options.archiveSeconds} s of pgbench`),
    { what: 'peak RSS of any pgpilot backup process', pgpilot: bytes(peak), pgbackrest: bytes(r.full.pgbackrest === undefined ? undefined : Math.max(r.full.pgbackrest.peakRssBytes, r.incr.pgbackrest?.peakRssBytes ?? 0, r.restore.pgbackrest?.peakRssBytes ?? 0)), ratio: '–', target: '≤ 200 MB', pass: peak === undefined ? undefined : peak <= 200 * MB },
  ];
}

export function metricTable(rows: Check[]): string {
  return table(['figure', 'pgpilot', 'pgBackRest 2.45', 'ratio pgpilot / pgBackRest', 'target', 'result'],
    rows.map((c) => [c.what, c.pgpilot, c.pgbackrest, c.ratio, c.target, c.target === '–' ? '' : `**${verdict(c.pass)}**`]));
}

const busy = (list: BusyProcess[]): string => (list.length === 0 ? 'none above 10 % of a CPU' : list.map((b) => `${b.cpuPercent} % ${b.command}`).join('; '));

/**
 * The top of a results file: the title, which run wrote it (`stem`.json beside it), date, machine, versions, the
 * database (`database`: the rest of its line), the other load, the cache drops; then the targets and what failed.
 */
export function headLines(r: RunRecord, title: string, stem: string, database: string, checks: Check[]): string[] {
  const e = r.environment;
  const out = [
    `# ${title}`,
    '',
    `Written by \`npm run bench:${stem}\` (\`${e.command}\`); every figure below comes from this one run. Raw numbers: [${stem}.json](${stem}.json).`,
    '',
    `- date: ${e.startedAt} to ${e.finishedAt} (${Math.round(e.durationSeconds / 60)} min)`,
    `- machine: ${e.machine.cpus} CPUs (${e.machine.cpuModel}), ${e.machine.memoryGiB} GiB memory, Linux ${e.machine.kernel}; repositories, restores and the database on the same local disk`,
    `- versions: ${Object.entries(e.versions).map(([k, v]) => `${k} ${v}`).join('; ')}`,
    `- database: ${database}`,
    `- other load on the machine: before the start, ${busy(r.busyAtStart)}; during each step, see [Steps](#steps)`,
    `- page cache dropped (\`sync; echo 3 > /proc/sys/vm/drop_caches\`) before each timed run: ${r.cacheDropped ? 'yes' : 'no (not permitted): the runs may have read from the cache'}`,
    '',
    '## Targets',
    '',
    table(['target', 'pgpilot', 'pgBackRest 2.45', 'ratio', 'target value', 'result'],
      checks.map((c) => [c.what, c.pgpilot, c.pgbackrest, c.ratio, c.target, `**${verdict(c.pass)}**`])),
    '',
  ];
  if (r.failures.length > 0 || r.leftovers.length > 0) {
    out.push('## Steps that failed', '', ...r.failures.map((f) => `- ${f.step}: ${f.error}`), ...r.leftovers.map((l) => `- left behind and killed at the end: ${l}`), '');
  }
  return out;
}

/** The Steps section: each step's start and duration, and the other processes busy meanwhile. */
export function stepsLines(r: RunRecord): string[] {
  return [
    '## Steps',
    '',
    'Other processes (not the benchmark\'s, nor the clusters\') that used more than 10 % of one CPU on average during the step; the machine has ' + `${r.environment.machine.cpus} CPUs. Processes that started and ended within a step are not seen.`,
    '',
    table(['step', 'start', 'seconds', 'other processes\' CPU'], r.steps.map((s) => [s.step, s.at.slice(11, 19), s.seconds.toFixed(1), busy(s.otherCpu)])),
    '',
  ];
}

/** The Settings section: the pgpilot manifests (caption, text), pgBackRest's configuration, PostgreSQL's settings. */
export function settingsLines(settings: SetupRecord['settings'], manifests: Array<[string, string]>, postgresCaption: string): string[] {
  return [
    '## Settings',
    '',
    'Both: compression zstd level 1, 2 parallel processes/threads, repository in a directory on the local disk, no encryption.',
    '',
    ...manifests.flatMap(([caption, text]) => [`${caption}:`, '', '```yaml', text.trim(), '```', '']),
    ...(settings.pgbackrestConfig === undefined ? ['pgBackRest: not run (`--skip-pgbackrest`, or it was missing).'] : [
      'pgBackRest configuration (`pgbackrest --config=THIS --stanza=bench`, run as the postgres user through `runuser`):',
      '', '```ini', settings.pgbackrestConfig.trim(), '```',
    ]),
    '',
    `${postgresCaption}: ${Object.entries(settings.postgres).map(([k, v]) => `${k}=${v}`).join(', ')}`,
    '',
  ];
}

/** The database line of a results file: scale, size, build time, PostgreSQL's version. */
export function databaseText(r: RunRecord & SetupRecord, scale: number): string {
  const d = r.database;
  return `pgbench scale ${scale}${d === undefined ? ' (not built)' : `, ${bytes(d.sizeBytes)} (pg_database_size), built in ${d.initSeconds.toFixed(0)} s`}; one pgpilot member (PostgreSQL ${r.environment.versions['PostgreSQL'] ?? ''})`;
}

export function renderMarkdown(r: BackupResults): string {
  const o = r.options;
  const out: string[] = headLines(r, 'Backups: pgpilot and pgBackRest 2.45, side by side', 'backup',
    `${databaseText(r, o.scale)}, both tools back up this same data directory`, targetChecks(r));
  out.push(
    ...settingsLines(r.settings, [['pgpilot manifest (`pgpilot up -f` this, `--detach`)', r.settings.pgpilotManifest]],
      'PostgreSQL settings of the member (both tools, and the standalone run of the archive test, use this postgresql.conf)'),
    '## Full backup',
    '',
    metricTable(backupRows(r.full, { time: 1, size: 1 })),
    '',
    `## Incremental backup after ${r.load === undefined ? '(no load ran)' : `${r.load.transactions} pgbench transactions (\`pgbench ${r.load.args.join(' ')}\`, ${r.load.tps.toFixed(0)} tps)`}`,
    '',
    'Each tool\'s incremental is relative to its own full backup; pgpilot\'s was taken first, both after a CHECKPOINT.',
    '',
    metricTable(backupRows(r.incr, { time: 0.3, size: 0.3 })),
    '',
    '## Restore of the full plus the incremental into an empty directory',
    '',
    metricTable(restoreRows(r.restore)),
    '',
    `## WAL archive under ${o.archiveSeconds} s of \`pgbench -c 4 -j 2 -T ${o.archiveSeconds} -n\``,
    '',
    metricTable(archiveRows(r.archive)),
    '',
    '## Peak memory of pgpilot\'s processes',
    '',
    table(['process', 'peak RSS'], pgpilotPeaks(r).map((p) => [p.what, bytes(p.bytes)])),
    '',
    ...stepsLines(r),
    '## How each figure was measured',
    '',
    '- **Sequence** (one run, one machine, one thing at a time): `pgpilot up` (1 member) → `pgbench -i -s SCALE` over TCP → pgBackRest `stanza-create` on the member\'s data directory → pgpilot full → pgBackRest full → pgbench `-t` load → pgpilot incr → pgBackRest incr → pgpilot restore → pgBackRest restore → pgpilot archive test → `pgpilot down` (data kept), the same data directory started as a plain PostgreSQL with `-c archive_command=\'pgbackrest ... archive-push %p\'` → pgBackRest archive test → stop, `pgpilot down --destroy --yes`.',
    '- **Before each timed run**: `CHECKPOINT`, `pg_switch_wal()` and a wait until pg_stat_archiver reports that segment archived (so no archiving backlog runs during the measurement), `sync`, drop the page cache.',
    '- **Time**: wall clock from starting the command to its exit, as a user waits for it: `pgpilot backup NAME --type T --json` (the CLI starts a job on the agent and polls it, every 20 ms at first and less often as the job runs on; the job itself is a child process of the agent, `pgpilot job backup`); `pgbackrest --type=T --no-archive-check backup`. pgpilot\'s backup includes waiting until the stop segment is in its WAL archive; pgBackRest\'s, with `--no-archive-check`, does not wait for WAL (the cluster archives to pgpilot\'s repository, as in the anchors).',
    '- **Stored size**: apparent bytes of every file under the backup\'s directory (`backup/LABEL` for pgpilot, `backup/bench/LABEL` for pgBackRest, manifests included). WAL archives are not counted on either side. The tools\' own figures are shown beside.',
    '- **I/O**: for pgBackRest and pgpilot\'s restore, the command runs under `sh -c \'CMD; cat /proc/$$/io\'`: the kernel adds every reaped child\'s counters to its parent\'s, so that is exactly the I/O of the whole process tree (pgBackRest\'s local processes included). For pgpilot\'s backup job (started by the agent), its /proc/PID/io (all worker threads included) is sampled every 100 ms and the last sample before it exited is shown; the agent\'s own counters over the backup, which include the job\'s once reaped, are in backup.json (`agentIo`). read_bytes/write_bytes count storage I/O (after the cache drop, reads come from disk); rchar/wchar count every byte through read()/write() (pipes and sockets included).',
    '- **Peak RSS**: VmRSS and VmHWM from /proc/PID/status of the working processes (matched by command line, sh and runuser wrappers excluded), sampled every 100 ms; shown is the larger of the highest VmHWM of one process (the kernel\'s exact peak) and the highest sum of VmRSS over the processes at one sample. pgpilot: the `pgpilot job backup` process, the `pgpilot restore` CLI process, the `pgpilot wal-archiver` process. pgBackRest: the main process and its local processes (up to process-max 2).',
    '- **Restore**: `pgpilot restore NAME --set INCR --to-dir DIR` (run as root; it writes the files as postgres, and copies the WAL of the backup into pg_wal) and `pgbackrest --pg1-path=DIR --set=INCR restore` as postgres into an empty directory (default recovery type: writes recovery.signal and restore_command). The second time adds a `sync` right after the command, so both end with the files on disk (both tools fsync every file they restore).',
    `- **WAL archive**: \`pgbench -c 4 -j 2 -T ${o.archiveSeconds} -n\` over TCP, on the same data directory for both tools: first with pgpilot running (its archive_command waits for the wal-archiver child of the agent, which pushes ahead of PostgreSQL with 2 jobs), then with pgpilot stopped and the directory started as a plain PostgreSQL archiving with pgBackRest (\`archive-async=y\`, \`process-max=2\`). Every second and right when pgbench returns: segments behind = (segment of pg_current_wal_lsn) − (segment of pg_stat_archiver.last_archived_wal) − 1, i.e. complete segments PostgreSQL does not yet report archived (the segment being written is not counted). The repository count uses the newest segment present in the repository with none missing since the load started.`,
    '- **Ratios** are pgpilot / pgBackRest; a target on a ratio passes when the ratio is at or below it. MB = 10^6 bytes, GB = 10^9.',
    '',
  );
  return out.join('\n');
}

/** Writes `stem`.md and `stem`.json (the results with their checks) into `dir`. */
export async function writeResults(dir: string, stem: string, markdown: string, results: object): Promise<{ md: string; json: string }> {
  await fs.mkdir(dir, { recursive: true });
  const md = path.join(dir, `${stem}.md`);
  const json = path.join(dir, `${stem}.json`);
  await fs.writeFile(md, markdown);
  await fs.writeFile(json, JSON.stringify(results, null, 2) + '\n');
  return { md, json };
}

export function writeReport(r: BackupResults, dir: string): Promise<{ md: string; json: string }> {
  return writeResults(dir, 'backup', renderMarkdown(r), { ...r, checks: targetChecks(r) });
}
