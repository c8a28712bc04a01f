// GET /metrics: the member status, backup results and WAL archive status in the Prometheus text format (0.0.4).
import type { MemberStatus } from '../model/cluster.js';
import type { BackupMetrics, BackupTypeStats } from './jobs.js';

export const metricsType = 'text/plain; version=0.0.4; charset=utf-8';

type Labels = Record<string, string>;

/** One metric: HELP and TYPE lines, then a sample per label set; undefined values are left out (not known). */
interface Family {
  name: string;
  help: string;
  type: 'gauge' | 'counter';
  samples: Array<{ labels: Labels; value: number | undefined }>;
}

interface Gauge {
  name: string;
  help: string;
  value: (s: MemberStatus) => number | undefined;
}

const flag = (b: boolean): number => (b ? 1 : 0);

const gauges: Gauge[] = [
  { name: 'pgpilot_up', help: 'Whether the pgpilot agent answers (always 1).', value: () => 1 },
  {
    name: 'pgpilot_postgres_running',
    help: 'Whether PostgreSQL is running (1) or not (0).',
    value: (s) => flag(s.state === 'running'),
  },
  { name: 'pgpilot_is_leader', help: 'Whether this member holds the leader key.', value: (s) => flag(s.isLeader) },
  { name: 'pgpilot_timeline', help: 'The PostgreSQL timeline of this member.', value: (s) => s.timeline },
  {
    name: 'pgpilot_replication_lag_bytes',
    help: 'Bytes of WAL this replica is behind the leader.',
    value: (s) => s.lagBytes,
  },
  {
    name: 'pgpilot_pending_restart',
    help: 'Whether PostgreSQL needs a restart to apply changed parameters.',
    value: (s) => flag(s.pendingRestart),
  },
];

interface BackupGauge {
  name: string;
  help: string;
  value: (b: BackupTypeStats) => number | undefined;
}

const seconds = (ms: number | undefined): number | undefined => (ms === undefined ? undefined : ms / 1000);

const backupGauges: BackupGauge[] = [
  {
    name: 'pgpilot_backup_last_success_timestamp_seconds',
    help: 'End time of the last successful backup of this repository and type taken by this member (Unix seconds).',
    value: (b) => seconds(b.lastSuccessAt),
  },
  {
    name: 'pgpilot_backup_last_duration_seconds',
    help: 'How long the last successful backup of this repository and type took.',
    value: (b) => b.lastDurationSeconds,
  },
  {
    name: 'pgpilot_backup_last_stored_bytes',
    help: 'Bytes the last successful backup of this repository and type stored (compressed).',
    value: (b) => b.lastStoredBytes,
  },
  {
    name: 'pgpilot_backup_last_database_bytes',
    help: 'Size of the database the last successful backup of this repository and type copied.',
    value: (b) => b.lastDatabaseBytes,
  },
];

export function metricsText(s: MemberStatus, backup: BackupMetrics): string {
  const member = { scope: s.scope, name: s.name };
  return [...memberFamilies(s, member), ...backupFamilies(backup, member), ...archiveFamilies(backup, member)].map(familyText).join('');
}

function memberFamilies(s: MemberStatus, member: Labels): Family[] {
  return gauges.map((g) => ({ name: g.name, help: g.help, type: 'gauge', samples: [{ labels: member, value: g.value(s) }] }));
}

function backupFamilies(backup: BackupMetrics, member: Labels): Family[] {
  const perType = backupGauges.map((g): Family => ({
    name: g.name,
    help: g.help,
    type: 'gauge',
    samples: backup.backups.map((b) => ({ labels: { ...member, repo: b.repo, type: b.type }, value: g.value(b) })),
  }));
  const failures = new Map<string, number>();
  for (const b of backup.backups) failures.set(b.repo, (failures.get(b.repo) ?? 0) + b.failures);
  const failed: Family = {
    name: 'pgpilot_backup_failures_total',
    help: 'Failed backups of this repository since this member\'s agent started.',
    type: 'counter',
    samples: [...failures].map(([repo, value]) => ({ labels: { ...member, repo }, value })),
  };
  return [...perType, failed];
}

function archiveFamilies(backup: BackupMetrics, member: Labels): Family[] {
  const a = backup.archive;
  const lastAt = Date.parse(a?.lastArchivedAt ?? '');
  const one = (value: number | undefined): Family['samples'] => [{ labels: member, value }];
  return [
    {
      name: 'pgpilot_archive_last_archived_timestamp_seconds',
      help: 'When this member\'s WAL archiver last pushed a segment to every repository (Unix seconds).',
      type: 'gauge',
      samples: one(Number.isNaN(lastAt) ? undefined : lastAt / 1000),
    },
    {
      name: 'pgpilot_archive_failures_total',
      help: 'Failed WAL segment pushes of this member\'s archiver.',
      type: 'counter',
      samples: one(a?.failures),
    },
    {
      name: 'pgpilot_archive_pending_segments',
      help: 'WAL segments ready for archiving and not yet pushed to every repository.',
      type: 'gauge',
      samples: one(a?.pending),
    },
  ];
}

function familyText(f: Family): string {
  const header = `# HELP ${f.name} ${f.help}\n# TYPE ${f.name} ${f.type}\n`;
  const lines = f.samples.flatMap((x) => (x.value === undefined ? [] : [`${f.name}${labelText(x.labels)} ${x.value}\n`]));
  return header + lines.join('');
}

function labelText(labels: Labels): string {
  return `{${Object.entries(labels).map(([k, v]) => `${k}="${labelValue(v)}"`).join(',')}}`;
}

/** Escapes backslash, double quote and newline, as the exposition format requires in label values. */
function labelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
