// Unit tests of the Prometheus text: HELP/TYPE lines, labels, and samples left out when unknown.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { primaryStatus, replicaStatus } from './fixtures.js';
import { metricsText } from './metrics.js';

test('a primary exposes every gauge but lag, with scope and name labels', () => {
  const text = metricsText(primaryStatus());
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
  const text = metricsText(replicaStatus({ name: 'a"b\\c' }));
  assert.match(text, /^pgpilot_replication_lag_bytes\{scope="demo",name="a\\"b\\\\c"\} 96$/m);
  assert.match(text, /^pgpilot_is_leader\{.*\} 0$/m);
});
