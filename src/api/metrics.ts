// GET /metrics: the member status in the Prometheus text exposition format (version 0.0.4).
import type { MemberStatus } from '../model/cluster.js';

export const metricsType = 'text/plain; version=0.0.4; charset=utf-8';

interface Gauge {
  name: string;
  help: string;
  /** Undefined leaves the sample out (the value is not known). */
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

export function metricsText(s: MemberStatus): string {
  const labels = `{scope="${labelValue(s.scope)}",name="${labelValue(s.name)}"}`;
  return gauges.map((g) => gaugeText(g, labels, g.value(s))).join('');
}

function gaugeText(g: Gauge, labels: string, value: number | undefined): string {
  const header = `# HELP ${g.name} ${g.help}\n# TYPE ${g.name} gauge\n`;
  return value === undefined ? header : `${header}${g.name}${labels} ${value}\n`;
}

/** Escapes backslash, double quote and newline, as the exposition format requires in label values. */
function labelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
