// Unit tests of reading pg_rewind's outcome from its real PostgreSQL 15 output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rewindOutcome } from './rewind.js';

test('a rewind that copied files', () => {
  const output = [
    'pg_rewind: connected to server',
    'pg_rewind: servers diverged at WAL location 0/3002240 on timeline 1',
    'pg_rewind: rewinding from last common checkpoint at 0/30021C8 on timeline 1',
    'pg_rewind: reading source file list',
    'pg_rewind: need to copy 51 MB (total source directory size is 70 MB)',
    '52941/52941 kB (100%) copied',
    'pg_rewind: creating backup label and updating control file',
    'pg_rewind: Done!',
  ].join('\n');
  assert.deepEqual(rewindOutcome(output), { rewound: true });
});

test("nothing to do on the same timeline; only pg_rewind's own line says so", () => {
  const output = 'pg_rewind: connected to server\npg_rewind: source and target cluster are on the same timeline\n'
    + 'pg_rewind: no rewind required\n';
  assert.deepEqual(rewindOutcome(output), { rewound: false });
  assert.deepEqual(rewindOutcome('LOG:  something said no rewind required'), { rewound: true });
});
