// Unit tests of the Prometheus text: HELP/TYPE lines, labels, samples left out when unknown, backups and archive.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { primaryStatus, replicaStatus } from './fixtures.js';
import { emptyArchiveStatus, type BackupMetrics, type BackupTypeStats } from './jobs.js';
import { metricsText } from './metrics.js';

const noBackups: BackupMetrics = { backups: [], archive: undefined };

test('a primary exposes every gauge but lag, with scope and name labels', () => {
  const text = metricsText(primaryStatus(), noBackups);
  const samples = text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
  assert.deepEqual(samples, [
    'pgpilot_up{scope="demo",name="pg-0"} 1',
    'pgpilot_postgres_running{scope="demo",name="pg-0"} 1',
    'pgpilot_is_leader{scope="demo",name="pg-0"} 1',
    'pgpilot_timeline{scope="demo",name="pg-0"} 2',
    'pgpilot_pending_restart{scope="demo",name="pg-0"} 0',
  ]);
  assert.match(text, /^# HELP pgpilot_up .+\n# TYPE pgpilot_up gauge\n/);
  assert.match(text, /# TYPE pgpilot_replication_lag_bytes gauge\n/);
});

test('a replica exposes its lag, and label values are escaped', () => {
  const text = metricsText(replicaStatus({ name: 'a"b\\c' }), noBackups);
  assert.match(text, /^pgpilot_replication_lag_bytes\{scope="demo",name="a\\"b\\\\c"\} 96$/m);
  assert.match(text, /^pgpilot_is_leader\{.*\} 0$/m);
});

const typeStats = (repo: string, type: BackupTypeStats['type'], more: Partial<BackupTypeStats> = {}): BackupTypeStats => ({
  repo, type, lastSuccessAt: undefined, lastDurationSeconds: undefined, lastStoredBytes: undefined, lastDatabaseBytes: undefined,
  failures: 0, lastFailureAt: undefined, ...more,
});

test('backups: per repository and type gauges once known, failures summed per repository', () => {
  const text = metricsText(primaryStatus(), {
    backups: [
      typeStats('main', 'full', { lastSuccessAt: 1_700_000_000_500, lastDurationSeconds: 12.5, lastStoredBytes: 1000, lastDatabaseBytes: 4000, failures: 1 }),
      typeStats('main', 'incr', { failures: 2, lastFailureAt: 1_700_000_000_000 }),
      typeStats('s3', 'full'),
    ],
    archive: undefined,
  });
  const samples = text.split('\n').filter((l) => /^pgpilot_(backup|archive)_/.test(l));
  const main = 'scope="demo",name="pg-0",repo="main"';
  assert.deepEqual(samples, [
    `pgpilot_backup_last_success_timestamp_seconds{${main},type="full"} 1700000000.5`,
    `pgpilot_backup_last_duration_seconds{${main},type="full"} 12.5`,
    `pgpilot_backup_last_stored_bytes{${main},type="full"} 1000`,
    `pgpilot_backup_last_database_bytes{${main},type="full"} 4000`,
    `pgpilot_backup_failures_total{${main}} 3`,
    'pgpilot_backup_failures_total{scope="demo",name="pg-0",repo="s3"} 0',
  ]);
  assert.match(text, /# TYPE pgpilot_backup_failures_total counter\n/);
  assert.match(text, /# TYPE pgpilot_archive_pending_segments gauge\n/);
});

test('archive: last archived time, failures and pending segments from the status file', () => {
  const archive = { ...emptyArchiveStatus(), lastArchivedAt: '2023-11-14T22:13:20.000Z', failures: 4, pending: 2 };
  const samples = metricsText(primaryStatus(), { backups: [], archive }).split('\n').filter((l) => l.startsWith('pgpilot_archive_'));
  assert.deepEqual(samples, [
    'pgpilot_archive_last_archived_timestamp_seconds{scope="demo",name="pg-0"} 1700000000',
    'pgpilot_archive_failures_total{scope="demo",name="pg-0"} 4',
    'pgpilot_archive_pending_segments{scope="demo",name="pg-0"} 2',
  ]);
});
