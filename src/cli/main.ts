// The pgpilot command tree: parses argv, runs one command, turns errors into a message, a hint and an exit code.
import { AssertionFailure, PgpilotError, ErrorCode } from '../base/errors.js';
import { jsonLogger } from '../base/log.js';
import { helpText, parseArgs, type CommandSpec, type ParsedArgs } from './args.js';
import { processIo, type Io } from './io.js';
import type { Logger } from '../base/log.js';

type Handler = (args: ParsedArgs, io: Io, logger: Logger) => Promise<number>;

/** A command's module is loaded when the command runs: every process (a job, the CLI) starts with only what it uses. */
const lazy = <M>(load: () => Promise<M>, pick: (m: M) => Handler): Handler => async (args, io, logger) => pick(await load())(args, io, logger);

const dcsFlags = {
  dcs: { kind: 'string', help: 'etcd client URLs (comma-separated) of a cluster not started here by `pgpilot up`' },
  namespace: { kind: 'string', help: 'DCS namespace (default /service)' },
} as const;

const tokenFlag = { 'token-file': { kind: 'string', help: "API token file (default: the local cluster's)" } } as const;

const commands: Array<CommandSpec & { run: Handler; hidden?: boolean }> = [
  {
    name: 'up', usage: 'pgpilot up -f FILE [--detach]', summary: 'Start the cluster a manifest describes on this machine (etcd, agents, PostgreSQL) and wait until it is healthy.',
    positionals: [], flags: { file: { kind: 'string', short: 'f', help: 'the manifest (YAML)' }, detach: { kind: 'boolean', short: 'd', help: 'return once healthy and leave the cluster running' } }, run: lazy(() => import('./cmd-cluster.js'), (c) => c.cmdUp),
  },
  {
    name: 'down', usage: 'pgpilot down NAME [--destroy --yes]', summary: 'Stop every process of a local cluster and free its ports; --destroy also deletes its data.',
    positionals: ['NAME'], flags: { destroy: { kind: 'boolean', help: 'delete the data directories, secrets and logs too' }, yes: { kind: 'boolean', short: 'y', help: 'do not ask for confirmation' } }, run: lazy(() => import('./cmd-cluster.js'), (c) => c.cmdDown),
  },
  {
    name: 'status', usage: 'pgpilot status NAME [--json]', summary: 'Members, roles, states, timelines and lag, read from the DCS.',
    positionals: ['NAME'], flags: { json: { kind: 'boolean', help: 'machine-readable output' }, ...dcsFlags }, run: lazy(() => import('./cmd-inspect.js'), (c) => c.cmdStatus),
  },
  {
    name: 'connection', usage: 'pgpilot connection NAME [--json]', summary: "The application role's connection details (host, port, user, password, dbname, uri).",
    positionals: ['NAME'], flags: { json: { kind: 'boolean', help: 'machine-readable output' } }, run: lazy(() => import('./cmd-inspect.js'), (c) => c.cmdConnection),
  },
  {
    name: 'psql', usage: 'pgpilot psql NAME [--replica] [-- PSQL_ARGS]', summary: 'Open psql as the superuser on the primary (or a replica).',
    positionals: ['NAME'], passthrough: true, flags: { replica: { kind: 'boolean', help: 'connect to a running replica' }, ...dcsFlags }, run: lazy(() => import('./cmd-inspect.js'), (c) => c.cmdPsql),
  },
  {
    name: 'logs', usage: 'pgpilot logs NAME [--member M] [--lines N]', summary: 'Show the agent and PostgreSQL logs of the members of a local cluster.',
    positionals: ['NAME'], flags: { member: { kind: 'string', short: 'm', help: 'only this member' }, lines: { kind: 'string', short: 'n', help: 'lines per log (default 100)' } }, run: lazy(() => import('./cmd-inspect.js'), (c) => c.cmdLogs),
  },
  {
    name: 'restart', usage: 'pgpilot restart NAME [--member M]', summary: 'Restart PostgreSQL on every member (replicas first) or on one.',
    positionals: ['NAME'], flags: { member: { kind: 'string', short: 'm', help: 'only this member' }, 'token-file': { kind: 'string', help: 'API token file (default: the local cluster\'s)' }, ...dcsFlags }, run: lazy(() => import('./cmd-inspect.js'), (c) => c.cmdRestart),
  },
  {
    name: 'switchover', usage: 'pgpilot switchover NAME [--to MEMBER] [--at TIME]', summary: 'Hand the primary role over to a healthy replica, cleanly (clients through the pooler see a short stall).',
    positionals: ['NAME'], flags: { to: { kind: 'string', help: 'the replica to promote (default: the healthiest)' }, at: { kind: 'string', help: 'schedule it (ISO 8601 time)' }, 'token-file': { kind: 'string', help: "API token file (default: the local cluster's)" }, ...dcsFlags }, run: lazy(() => import('./cmd-ha.js'), (c) => c.cmdSwitchover),
  },
  {
    name: 'failover', usage: 'pgpilot failover NAME --to MEMBER [--yes]', summary: 'Promote MEMBER when there is no healthy leader (with a leader, prefer switchover).',
    positionals: ['NAME'], flags: { to: { kind: 'string', help: 'the member to promote' }, yes: { kind: 'boolean', short: 'y', help: 'fail over even though a leader is running' }, 'token-file': { kind: 'string', help: "API token file (default: the local cluster's)" }, ...dcsFlags }, run: lazy(() => import('./cmd-ha.js'), (c) => c.cmdFailover),
  },
  {
    name: 'pause', usage: 'pgpilot pause NAME', summary: 'Maintenance mode: no automatic failover, no automatic restarts, until resume.',
    positionals: ['NAME'], flags: { 'token-file': { kind: 'string', help: "API token file (default: the local cluster's)" }, ...dcsFlags }, run: lazy(() => import('./cmd-ha.js'), (c) => c.cmdPause),
  },
  {
    name: 'resume', usage: 'pgpilot resume NAME', summary: 'Leave maintenance mode: automatic failover again.',
    positionals: ['NAME'], flags: { 'token-file': { kind: 'string', help: "API token file (default: the local cluster's)" }, ...dcsFlags }, run: lazy(() => import('./cmd-ha.js'), (c) => c.cmdResume),
  },
  {
    name: 'history', usage: 'pgpilot history NAME [--json]', summary: 'Timeline switches (failovers, switchovers) with time, reason and new leader.',
    positionals: ['NAME'], flags: { json: { kind: 'boolean', help: 'machine-readable output' }, ...dcsFlags }, run: lazy(() => import('./cmd-ha.js'), (c) => c.cmdHistory),
  },
  {
    name: 'apply', usage: 'pgpilot apply -f FILE', summary: 'Change a running cluster to match the manifest: instances, parameters, HA timings.',
    positionals: [], flags: { file: { kind: 'string', short: 'f', help: 'the manifest (YAML)' } }, run: lazy(() => import('./cmd-cluster.js'), (c) => c.cmdApply),
  },
  {
    name: 'backup', usage: 'pgpilot backup NAME [--type full|diff|incr] [--repo R] [--json]', summary: 'Take a physical backup now (on the leader), then apply retention.',
    positionals: ['NAME'], flags: { type: { kind: 'string', short: 't', help: 'full (default), diff (changes since the last full) or incr (since the last backup)' }, repo: { kind: 'string', help: 'repository name (default: the first)' }, json: { kind: 'boolean', help: 'machine-readable output' }, ...tokenFlag, ...dcsFlags }, run: lazy(() => import('./cmd-backup.js'), (c) => c.cmdBackup),
  },
  {
    name: 'backups', usage: 'pgpilot backups NAME [--json]', summary: 'List the backups of every repository: label, type, status, times, LSNs, sizes, reference.',
    positionals: ['NAME'], flags: { json: { kind: 'boolean', help: 'machine-readable output' }, ...dcsFlags }, run: lazy(() => import('./cmd-backup.js'), (c) => c.cmdBackups),
  },
  {
    name: 'verify', usage: 'pgpilot verify NAME [--set LABEL] [--repo R] [--json]', summary: 'Re-read the repositories: every stored file against its checksum, and the WAL each backup needs.',
    positionals: ['NAME'], flags: { set: { kind: 'string', help: 'only this backup and the ones it depends on' }, repo: { kind: 'string', help: 'only this repository' }, json: { kind: 'boolean', help: 'machine-readable output' }, ...tokenFlag, ...dcsFlags }, run: lazy(() => import('./cmd-backup.js'), (c) => c.cmdVerify),
  },
  {
    name: 'expire', usage: 'pgpilot expire NAME [--repo R]', summary: 'Apply the retention policy now: remove expired backups and the WAL no kept backup needs.',
    positionals: ['NAME'], flags: { repo: { kind: 'string', help: 'only this repository' }, json: { kind: 'boolean', help: 'machine-readable output' }, ...tokenFlag, ...dcsFlags }, run: lazy(() => import('./cmd-backup.js'), (c) => c.cmdExpire),
  },
  {
    name: 'archive-status', usage: 'pgpilot archive-status NAME [--json]', summary: 'The WAL archive: last archived segment, lag, pending segments, failures.',
    positionals: ['NAME'], flags: { json: { kind: 'boolean', help: 'machine-readable output' }, ...dcsFlags }, run: lazy(() => import('./cmd-backup.js'), (c) => c.cmdArchiveStatus),
  },
  {
    name: 'restore', usage: 'pgpilot restore NAME (--to-dir DIR | --to-new NEW --new-file MANIFEST | --in-place [--yes]) [--time T | --lsn L | --xid X | --name P | --immediate] [--set LABEL] [--repo R] [-f MANIFEST]',
    summary: 'Restore a backup into a directory, into a new cluster, or in place, to a point in time.',
    positionals: ['NAME'], flags: {
      'to-dir': { kind: 'string', help: 'reassemble the backup into this absent or empty directory' },
      'to-new': { kind: 'string', help: 'create this new cluster from the backup and the archived WAL' },
      'new-file': { kind: 'string', help: "the new cluster's manifest (its own ports and repository)" },
      'in-place': { kind: 'boolean', help: 'restore this cluster itself: every member stops, the first is delta-restored, the others re-seed' },
      yes: { kind: 'boolean', short: 'y', help: 'do not ask before an in-place restore' },
      time: { kind: 'string', help: 'recover to this time (ISO 8601)' }, lsn: { kind: 'string', help: 'recover to this LSN' },
      xid: { kind: 'string', help: 'recover to the commit of this transaction' }, name: { kind: 'string', help: 'recover to this restore point' },
      immediate: { kind: 'boolean', help: 'stop as soon as the backup is consistent' },
      set: { kind: 'string', help: 'backup label (default: the newest that reaches the target)' }, repo: { kind: 'string', help: 'repository name (default: the first)' },
      file: { kind: 'string', short: 'f', help: "the source cluster's manifest (default: the local cluster's)" },
    }, run: lazy(() => import('./cmd-backup.js'), (c) => c.cmdRestore),
  },
  {
    name: 'restore-point', usage: 'pgpilot restore-point NAME POINT', summary: 'Create a named restore point on the primary (pg_create_restore_point) and record it in the repositories.',
    positionals: ['NAME', 'POINT'], flags: { ...dcsFlags }, run: lazy(() => import('./cmd-backup.js'), (c) => c.cmdRestorePoint),
  },
  {
    name: 'dump', usage: 'pgpilot dump NAME [--db DB[,DB]]', summary: 'Take a logical dump now: pg_dump -Fc per database plus the globals.',
    positionals: ['NAME'], flags: { db: { kind: 'string', help: 'databases (default: spec.backup.logical.databases, or all)' }, json: { kind: 'boolean', help: 'machine-readable output' }, ...tokenFlag, ...dcsFlags }, run: lazy(() => import('./cmd-backup.js'), (c) => c.cmdDump),
  },
  {
    name: 'dumps', usage: 'pgpilot dumps NAME [--json]', summary: 'List the logical dumps.',
    positionals: ['NAME'], flags: { json: { kind: 'boolean', help: 'machine-readable output' }, ...dcsFlags }, run: lazy(() => import('./cmd-backup.js'), (c) => c.cmdDumps),
  },
  {
    name: 'dump-restore', usage: 'pgpilot dump-restore NAME --label LABEL --db DB [--into NEWDB | --yes]', summary: 'Restore one database of a logical dump, into a new database or over the existing one.',
    positionals: ['NAME'], flags: { label: { kind: 'string', help: 'the dump' }, db: { kind: 'string', help: 'the database in the dump' }, into: { kind: 'string', help: 'restore into this database (created if missing)' }, yes: { kind: 'boolean', short: 'y', help: 'replace the existing database\'s objects' }, ...tokenFlag, ...dcsFlags }, run: lazy(() => import('./cmd-backup.js'), (c) => c.cmdDumpRestore),
  },
  {
    name: 'job', usage: 'pgpilot job KIND --config FILE [--options JSON]', summary: 'Internal: one backup-engine task, run by the agent as a child process.',
    positionals: ['KIND'], flags: { config: { kind: 'string', short: 'c', help: 'the agent config' }, options: { kind: 'string', help: 'the task options (JSON)' } }, run: lazy(() => import('./cmd-job.js'), (c) => c.cmdJob), hidden: true,
  },
  {
    name: 'agent', usage: 'pgpilot agent --config FILE', summary: 'Run the member agent (one per PostgreSQL member), as `pgpilot up` does, or by hand on other hosts.',
    positionals: [], flags: { config: { kind: 'string', short: 'c', help: 'the agent config (YAML), see docs/manifest.md' } }, run: lazy(() => import('./cmd-cluster.js'), (c) => c.cmdAgent),
  },
  {
    name: 'supervise', usage: 'pgpilot supervise NAME', summary: 'Internal: the process `pgpilot up` starts to own a local cluster.',
    positionals: ['NAME'], flags: {}, run: lazy(() => import('./cmd-cluster.js'), (c) => c.cmdSupervise), hidden: true,
  },
  {
    name: 'wal-archiver', usage: 'pgpilot wal-archiver --config FILE', summary: 'Internal: the agent\'s child that pushes WAL files to the backup repositories.',
    positionals: [], flags: { config: { kind: 'string', short: 'c', help: 'the agent config (YAML)' } }, run: lazy(() => import('./cmd-wal-archiver.js'), (c) => c.cmdWalArchiver), hidden: true,
  },
];

function usage(): string {
  const lines = commands.filter((c) => c.hidden !== true).map((c) => `  ${c.name.padEnd(11)} ${c.summary}`);
  return ['usage: pgpilot COMMAND [ARGS]', '', 'commands:', ...lines, '', 'pgpilot COMMAND --help shows the options of a command.'].join('\n');
}

export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.out(usage());
    return name === undefined ? ErrorCode.Usage : 0;
  }
  // A job's stdout carries its result to the agent: its log goes to stderr, which the agent passes into its own log.
  const toStderr = name === 'job' ? { write: (line: string) => void process.stderr.write(line) } : {};
  const logger = jsonLogger({ level: process.env['PGPILOT_LOG_LEVEL'] === 'debug' ? 'debug' : 'info', ...toStderr });
  try {
    const command = commands.find((c) => c.name === name);
    if (command === undefined) throw new PgpilotError('Usage', `unknown command "${name}"`, { hint: 'see pgpilot --help' });
    if (rest.includes('--help') || rest.includes('-h')) {
      io.out(helpText(command));
      return 0;
    }
    return await command.run(parseArgs(command, rest), io, logger);
  } catch (e) {
    if (e instanceof PgpilotError) {
      io.err(`error: ${e.format()}`);
      return e.exitCode;
    }
    const kind = e instanceof AssertionFailure ? 'bug' : 'unexpected error';
    io.err(`${kind}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    return 1;
  }
}
