// Unit tests of the changed blocks of one relation file: segment files, forks the WAL cannot follow, truncations,
// databases created in between; and of how changed blocks are grouped into reads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spans } from './delta-copy.js';
import { changedBlocksOfFile } from './wal-changes.js';
import type { WalChanges } from './wal-records.js';

const changes: WalChanges = {
  blocks: new Map([
    ['1663/5/16384/0', new Set([3, 1, 131072 + 7])],
    ['1663/5/16384/1', new Set([0])],
    ['1664/0/1262/0', new Set([0])],
    ['1663/9/100/0', new Set([2])],
  ]),
  from: new Map([['1663/5/16390/0', 4]]),
  databases: new Set([9]),
  records: 10,
};

test('the changed blocks of a relation file, counted from the file\'s start', () => {
  assert.deepEqual(changedBlocksOfFile(changes, 'base/5/16384', 8 * 8192), [1, 3]);
  assert.deepEqual(changedBlocksOfFile(changes, 'base/5/16384.1', 10 * 8192), [7], 'the second 1 GiB segment');
  assert.deepEqual(changedBlocksOfFile(changes, 'base/5/16384', 2 * 8192), [1], 'blocks past the end are not read');
  assert.deepEqual(changedBlocksOfFile(changes, 'global/1262', 8192), [0], 'shared catalogs: database 0 of the global tablespace');
  assert.deepEqual(changedBlocksOfFile(changes, 'base/5/16390', 6 * 8192), [4, 5], 'truncated since: everything from there');
  assert.deepEqual(changedBlocksOfFile(changes, 'base/5/17000', 6 * 8192), [], 'untouched');
  assert.equal(changedBlocksOfFile(changes, 'base/5/16384_fsm', 8192), undefined, 'free space maps are read whole');
  assert.equal(changedBlocksOfFile(changes, 'base/5/16384_vm', 8192), undefined, 'visibility maps are read whole');
  assert.equal(changedBlocksOfFile(changes, 'base/9/100', 8192 * 4), undefined, 'a database created or dropped in between');
});

test('changed blocks are read in spans: neighbours and small gaps together, up to a maximum length', () => {
  assert.deepEqual(spans([1, 2, 3, 10, 30], 16, 6), [{ first: 1, count: 10, blocks: [1, 2, 3, 10] }, { first: 30, count: 1, blocks: [30] }]);
  assert.deepEqual(spans([1, 2, 3, 10], 8, 6), [{ first: 1, count: 3, blocks: [1, 2, 3] }, { first: 10, count: 1, blocks: [10] }], 'too long a span');
  assert.deepEqual(spans([0, 1, 2, 3], 2, 0), [{ first: 0, count: 2, blocks: [0, 1] }, { first: 2, count: 2, blocks: [2, 3] }]);
  assert.deepEqual(spans([], 8, 8), []);
});
