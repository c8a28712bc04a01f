// CLI commands of the backup engine: backup, backups, verify, expire, archive-status, restore (to a directory, a new cluster or in place), restore-point, dump, dumps, dump-restore.
import { PgpilotError } from '../base/errors.js';
import { jsonLogger } from '../base/log.js';
import { type RecoveryTarget, describeTarget, parseTarget } from '../backup/recovery-target.js';
import { restoreInPlace } from '../runner/restore-in-place.js';
import { openRepo } from '../backup/repo.js';
import { recordRestorePoint } from '../backup/restore-points.js';
import type { Manifest } from '../config/types.js';
import { connect } from '../pg/query.js';
import { restoreToNew, sourceRepo } from '../runner/restore-new.js';
import { renderStatus } from './cmd-inspect.js';
import { restoreToDir } from '../backup/restore-to-dir.js';
import { type ApiClient, apiClient } from '../client/api-client.js';
import { loadManifest } from '../config/manifest.js';
import { isRoot, resolveRunAs } from '../pg/os-user.js';
import { leaderSuperuser, loadView, locateCluster, memberApiUrl } from '../runner/cluster-access.js';
import { clusterPaths } from '../runner/layout.js';
import { readSecretFile } from '../runner/secrets.js';
import { boolFlag, stringFlag, type ParsedArgs } from './args.js';
import { type JobKind, type JobOptions, isBackupType } from '../api/jobs.js';
import { runJobToEnd } from '../client/job-wait.js';
import type { BackupSummary } from './backup-summary.js';
import type { Io } from './io.js';
import { json, table } from './output.js';

/** The leader's API (jobs run there, so exactly one member runs them), with the token when one is readable. */
async function leaderApi(args: ParsedArgs, io: Io, needToken: boolean): Promise<{ name: string; api: ApiClient }> {
  const name = args.positionals[0] ?? '';
  const view = await loadView(await locateCluster(name, io.home, stringFlag(args, 'dcs'), stringFlag(args, 'namespace')));
  const member = view.leader?.name ?? view.members[0]?.name;
  if (member === undefined) throw new PgpilotError('State', `cluster ${name} has no member to ask`, { hint: `see pgpilot status ${name}` });
  if (needToken && view.leader === undefined) throw new PgpilotError('State', `cluster ${name} has no leader to run the job`, { hint: `see pgpilot status ${name}` });
  const tokenFile = stringFlag(args, 'token-file') ?? clusterPaths(name, io.home).apiToken;
  const token = needToken ? await readSecretFile(tokenFile) : undefined;
  return { name, api: apiClient({ baseUrl: memberApiUrl(view, member), ...(token === undefined ? {} : { token }), timeoutMs: 120_000 }) };
}

/** Starts a job on the leader and waits for it; a failed job becomes the error it reported. */
async function runJob(args: ParsedArgs, io: Io, kind: JobKind, options: JobOptions): Promise<unknown> {
  const { api } = await leaderApi(args, io, true);
  return runJobToEnd(api, kind, options);
}

const mib = (n: number | null): string => (n === null ? '' : `${(n / 1048576).toFixed(1)} MiB`);

export async function cmdBackup(args: ParsedArgs, io: Io): Promise<number> {
  const type = stringFlag(args, 'type') ?? 'full';
  if (!isBackupType(type)) throw new PgpilotError('Usage', `--type ${type}: expected full, diff or incr`);
  const repo = stringFlag(args, 'repo');
  const r = (await runJob(args, io, 'backup', { type, ...(repo === undefined ? {} : { repo }) })) as BackupSummary & { repo: string; durationMs: number };
  if (boolFlag(args, 'json')) io.out(json(r));
  else io.out(`backup ${r.label} (${r.type}) complete in repository ${r.repo}: ${mib(r.databaseSize)} backed up, ${mib(r.storedSize)} stored, ${(r.durationMs / 1000).toFixed(1)} s`);
  return 0;
}

export async function cmdBackups(args: ParsedArgs, io: Io): Promise<number> {
  const { api } = await leaderApi(args, io, false);
  const list = await api.backups();
  if (boolFlag(args, 'json')) {
    io.out(json(list));
    return 0;
  }
  for (const repo of list.repos) {
    io.out(`repository ${repo.name}${repo.location === undefined ? '' : ` (${repo.location})`}`);
    if (repo.error !== undefined) {
      io.out(`  error: ${repo.error}`);
      continue;
    }
    const rows = (repo.backups ?? []).map((b) => [b.label, b.type, b.status, b.startTime ?? '', b.stopTime ?? '', b.startLsn ?? '', b.stopLsn ?? '', String(b.timeline ?? ''), mib(b.databaseSize), mib(b.storedSize), b.reference ?? '']);
    io.out(rows.length === 0 ? '  no backups' : table(['Label', 'Type', 'Status', 'Start', 'Stop', 'Start LSN', 'Stop LSN', 'TL', 'Size', 'Stored', 'Reference'], rows));
    const w = repo.window;
    if (w !== undefined && w !== null) {
      const latest = 'error' in w.latest ? `unknown: ${w.latest.error}` : `LSN ${w.latest.lsn} on timeline ${w.latest.timeline} (end of the archived WAL)`;
      io.out(`  recoverable from ${w.earliest.time} (LSN ${w.earliest.lsn}, end of ${w.earliest.backup}) to ${latest}`);
      for (const t of w.timelines) io.out(`  timeline ${t.timeline}: WAL archived from ${t.fromLsn} to ${t.toLsn}`);
    }
  }
  return list.repos.some((r) => r.error !== undefined) ? 100 : 0;
}

export async function cmdVerify(args: ParsedArgs, io: Io): Promise<number> {
  const set = stringFlag(args, 'set');
  const repo = stringFlag(args, 'repo');
  const r = (await runJob(args, io, 'verify', { ...(set === undefined ? {} : { set }), ...(repo === undefined ? {} : { repo }) })) as {
    repos: { name: string; ok?: boolean; problems?: string[]; backups?: number; objects?: number; walFiles?: number; error?: string }[];
  };
  if (boolFlag(args, 'json')) io.out(json(r));
  let bad = false;
  for (const v of r.repos) {
    if (v.error !== undefined || v.ok !== true) bad = true;
    if (boolFlag(args, 'json')) continue;
    if (v.error !== undefined) io.out(`repository ${v.name}: error: ${v.error}`);
    else io.out(`repository ${v.name}: ${v.ok === true ? 'OK' : 'DAMAGED'}: ${v.backups} backups, ${v.objects} objects, ${v.walFiles} WAL files checked`);
    for (const p of v.problems ?? []) io.out(`  ${p}`);
  }
  return bad ? 101 : 0;
}

export async function cmdExpire(args: ParsedArgs, io: Io): Promise<number> {
  const repo = stringFlag(args, 'repo');
  const r = (await runJob(args, io, 'expire', repo === undefined ? {} : { repo })) as { repos: { name: string; expired?: { label: string; reason: string }[]; walRemoved?: number; error?: string }[] };
  if (boolFlag(args, 'json')) {
    io.out(json(r));
    return 0;
  }
  for (const x of r.repos) {
    if (x.error !== undefined) io.out(`repository ${x.name}: error: ${x.error}`);
    else io.out(`repository ${x.name}: ${x.expired?.length ?? 0} backups expired${(x.expired ?? []).map((e) => `\n  ${e.label} (${e.reason})`).join('')}; ${x.walRemoved ?? 0} WAL files removed`);
  }
  return 0;
}

export async function cmdArchiveStatus(args: ParsedArgs, io: Io): Promise<number> {
  const { api } = await leaderApi(args, io, false);
  const s = await api.archiveStatus();
  if (boolFlag(args, 'json')) {
    io.out(json(s));
    return 0;
  }
  const lag = s.lagSeconds === null ? 'never' : `${s.lagSeconds.toFixed(0)} s ago`;
  const failed = s.lastFailed === null ? '' : `, last ${s.lastFailed} at ${s.lastFailedAt ?? '?'}: ${s.lastError ?? ''}`;
  io.out([
    `last archived:  ${s.lastArchived ?? '-'} at ${s.lastArchivedAt ?? '-'} (${lag})`,
    `pending:        ${s.pending}`,
    `failures:       ${s.failures}${failed}`,
  ].join('\n'));
  return 0;
}

/** Restores a backup: into a directory on this host (--to-dir), into a new cluster (--to-new) or in place, to a target. */
export async function cmdRestore(args: ParsedArgs, io: Io): Promise<number> {
  const name = args.positionals[0] ?? '';
  const dir = stringFlag(args, 'to-dir');
  const toNew = stringFlag(args, 'to-new');
  const inPlace = boolFlag(args, 'in-place');
  if ([dir !== undefined, toNew !== undefined, inPlace].filter(Boolean).length !== 1) {
    throw new PgpilotError('Usage', 'pgpilot restore: give exactly one of --to-dir DIR, --to-new NEWNAME and --in-place');
  }
  if (inPlace) return restoreHere(args, io, name);
  const manifest = await loadManifest(stringFlag(args, 'file') ?? clusterPaths(name, io.home).manifest);
  if (toNew !== undefined) return restoreNew(args, io, manifest, toNew);
  if (targetFlags(args).kind !== 'latest') {
    throw new PgpilotError('Usage', 'pgpilot restore --to-dir copies a backup as it is and takes no recovery target', {
      hint: 'for a point in time use --to-new NEWNAME or --in-place; or start the copy with your own recovery settings',
    });
  }
  const repo = await openRepo(sourceRepo(manifest, stringFlag(args, 'repo')));
  const set = stringFlag(args, 'set');
  const summary = await restoreToDir({
    repo,
    ...(set === undefined ? {} : { label: set }),
    dir: dir ?? '',
    jobs: manifest.spec.backup.jobs,
    log: jsonLogger({ level: 'warn' }),
    ...(isRoot() ? { owner: await resolveRunAs('postgres') } : {}),
  });
  io.out(`restored backup ${summary.manifest.label} into ${dir}: ${summary.files} files, ${mib(summary.bytes)}, ${summary.walSegments} WAL segments`);
  io.out(`start it with: pg_ctl -D ${dir} -o '-p PORT' start   (archiving is off in the copy)`);
  return 0;
}

async function restoreNew(args: ParsedArgs, io: Io, source: Manifest, newName: string): Promise<number> {
  const file = stringFlag(args, 'new-file');
  if (file === undefined) throw new PgpilotError('Usage', `pgpilot restore --to-new ${newName}: --new-file MANIFEST is required`, { hint: `the new cluster's manifest, with metadata.name ${newName}, its own ports and its own repository` });
  const next = await loadManifest(file);
  if (next.metadata.name !== newName) throw new PgpilotError('Config', `${file}: metadata.name is ${next.metadata.name}, not ${newName}`, { hint: 'the name after --to-new must match the new manifest' });
  const target = targetFlags(args);
  const repo = stringFlag(args, 'repo');
  const set = stringFlag(args, 'set');
  const r = await restoreToNew({ sourceManifest: source, repo, set, target, newManifestFile: file, home: io.home, jobs: source.spec.backup.jobs, log: jsonLogger({ level: 'warn' }) });
  io.out(`cluster ${newName} restored from backup ${r.backup} to ${describeTarget(target)}: timeline ${r.recoveredTo.timeline}, LSN ${r.recoveredTo.lsn}`);
  io.out(renderStatus(r.up.status));
  return 0;
}

async function restoreHere(args: ParsedArgs, io: Io, name: string): Promise<number> {
  const target = targetFlags(args);
  if (!boolFlag(args, 'yes')) {
    const question = `restore cluster ${name} in place to ${describeTarget(target)}? Every member stops; writes after the target are undone (they stay in the archive). Type the cluster name to confirm: `;
    if (!(await io.confirm(question, name))) {
      throw new PgpilotError('NotConfirmed', `the in-place restore of ${name} was not confirmed`, { hint: 'pass --yes to restore without asking' });
    }
  }
  const r = await restoreInPlace({ name, repo: stringFlag(args, 'repo'), set: stringFlag(args, 'set'), target, home: io.home, log: jsonLogger({ level: 'warn' }) });
  io.out(`cluster ${name} restored in place from backup ${r.backup} to ${describeTarget(target)}: ${r.written} of ${r.files} files written, ${r.removed} removed; timeline ${r.recoveredTo.timeline}, LSN ${r.recoveredTo.lsn}`);
  for (const m of r.reseeded) io.out(`member ${m.member} re-seeded by a delta restore: ${m.written} of ${m.files} files written`);
  io.out(renderStatus(r.up.status));
  return 0;
}

function targetFlags(args: ParsedArgs): RecoveryTarget {
  return parseTarget({
    ...optional('time', stringFlag(args, 'time')), ...optional('lsn', stringFlag(args, 'lsn')), ...optional('xid', stringFlag(args, 'xid')),
    ...optional('name', stringFlag(args, 'name')), immediate: boolFlag(args, 'immediate'),
  });
}

function optional<K extends string>(key: K, value: string | undefined): Partial<Record<K, string>> {
  return value === undefined ? {} : ({ [key]: value } as Partial<Record<K, string>>);
}

/** pg_create_restore_point on the primary, recorded in every repository so a restore can find the backup before it. */
export async function cmdRestorePoint(args: ParsedArgs, io: Io): Promise<number> {
  const name = args.positionals[0] ?? '';
  const point = args.positionals[1] ?? '';
  if (point === '') throw new PgpilotError('Usage', 'pgpilot restore-point NAME POINT: the point needs a name');
  const manifest = await loadManifest(clusterPaths(name, io.home).manifest);
  const view = await loadView(await locateCluster(name, io.home, stringFlag(args, 'dcs'), stringFlag(args, 'namespace')));
  const primary = leaderSuperuser(view);
  if (primary === undefined) throw new PgpilotError('State', `cluster ${name} has no primary to create a restore point on`);
  const password = await readSecretFile(clusterPaths(name, io.home).superuserPassword);
  const client = await connect({ ...primary, password });
  let row;
  try {
    row = (await client.query<{ lsn: string; tli: number }>('SELECT pg_create_restore_point($1)::text AS lsn, (SELECT timeline_id FROM pg_control_checkpoint()) AS tli', [point])).rows[0];
    await client.query('SELECT pg_switch_wal()');
  } finally {
    await client.end();
  }
  if (row === undefined) throw new PgpilotError('Postgres', 'pg_create_restore_point returned nothing');
  for (const spec of manifest.spec.backup.repos) {
    await recordRestorePoint(await openRepo(spec), { name: point, lsn: row.lsn, timeline: row.tli, time: new Date().toISOString() });
  }
  io.out(`restore point ${point} at LSN ${row.lsn} (timeline ${row.tli})`);
  return 0;
}

export async function cmdDump(args: ParsedArgs, io: Io): Promise<number> {
  const db = stringFlag(args, 'db');
  const r = (await runJob(args, io, 'dump', db === undefined ? {} : { databases: db.split(',') })) as { label: string; repo: string };
  io.out(boolFlag(args, 'json') ? json(r) : `dump ${r.label} complete in repository ${r.repo}`);
  return 0;
}

export async function cmdDumps(args: ParsedArgs, io: Io): Promise<number> {
  const { api } = await leaderApi(args, io, false);
  const list = (await api.dumps()) as { repos: { name: string; dumps?: { label: string; status: string; startTime?: string; databases?: { name: string; size: number }[] }[]; error?: string }[] };
  if (boolFlag(args, 'json')) {
    io.out(json(list));
    return 0;
  }
  for (const repo of list.repos) {
    io.out(`repository ${repo.name}${repo.error === undefined ? '' : `: error: ${repo.error}`}`);
    const rows = (repo.dumps ?? []).map((d) => [d.label, d.status, d.startTime ?? '', (d.databases ?? []).map((x) => x.name).join(',')]);
    if (rows.length > 0) io.out(table(['Label', 'Status', 'Start', 'Databases'], rows));
  }
  return 0;
}

export async function cmdDumpRestore(args: ParsedArgs, io: Io): Promise<number> {
  const label = stringFlag(args, 'label');
  const database = stringFlag(args, 'db');
  if (label === undefined || database === undefined) throw new PgpilotError('Usage', 'pgpilot dump-restore: --label LABEL and --db DATABASE are required', { hint: 'see pgpilot dumps NAME' });
  const target = stringFlag(args, 'into') ?? database;
  if (target === database && !boolFlag(args, 'yes')) {
    throw new PgpilotError('NotConfirmed', `restoring dump ${label} into the existing database ${database} replaces its objects`, { hint: 'pass --into NEWDB to restore beside it, or --yes' });
  }
  await runJob(args, io, 'dump-restore', { label, database, target, clean: target === database });
  io.out(`database ${database} of dump ${label} restored into ${target}`);
  return 0;
}
