// Unit tests of page header helpers and pg_checksum_page, against real PostgreSQL 15 pages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatLsn } from '../model/lsn.js';
import {
  foreignBlockChecksums,
  realPageChecksums,
  realPageLsns,
  realPages,
  realPagesFile,
} from './page-fixtures.js';
import {
  blocksPerSegment,
  pageChecksum,
  pageIsNew,
  pageIsZero,
  pageLsn,
  pageSize,
  pageStoredChecksum,
  relationBlockNumber,
  relationSegmentNumber,
  verifyPage,
} from './page.js';

const blocks = [0, 1, 2];

test('the fixture holds three 8 KiB pages', () => {
  assert.equal(realPages.length, 3 * pageSize);
});

test('pageLsn reads pd_lsn as pageinspect reports it', () => {
  for (const b of blocks) assert.equal(formatLsn(pageLsn(realPages, b * pageSize)), realPageLsns[b]);
});

test('pageChecksum equals the checksum PostgreSQL stored', () => {
  for (const b of blocks) {
    assert.equal(pageStoredChecksum(realPages, b * pageSize), realPageChecksums[b]);
    assert.equal(pageChecksum(realPages, b * pageSize, b), realPageChecksums[b]);
  }
});

test('pageChecksum equals pageinspect page_checksum at other block numbers', () => {
  for (const { page, blockNo, checksum } of foreignBlockChecksums) {
    assert.equal(pageChecksum(realPages, page * pageSize, blockNo), checksum);
  }
});

test('pageChecksum ignores the stored pd_checksum and works at any buffer offset', () => {
  const copy = Buffer.concat([Buffer.alloc(3), realPages.subarray(0, pageSize)]);
  copy.writeUInt16LE(0xbeef, 3 + 8);
  assert.equal(pageChecksum(copy, 3, 0), realPageChecksums[0]);
});

test('real pages verify ok at their block numbers', () => {
  for (const b of blocks) assert.equal(verifyPage(realPages, b * pageSize, b), 'ok');
});

test('a flipped byte or a moved page is reported bad', () => {
  const page = Buffer.from(realPages.subarray(pageSize, 2 * pageSize));
  page[5000] = (page[5000] ?? 0) ^ 0x01;
  const verdict = verifyPage(page, 0, 1);
  assert.notEqual(verdict, 'ok');
  assert.deepEqual(verdict, { bad: { expected: pageChecksum(page, 0, 1), found: realPageChecksums[1] } });
  assert.deepEqual(verifyPage(realPages, pageSize, 2), {
    bad: { expected: pageChecksum(realPages, pageSize, 2), found: realPageChecksums[1] },
  });
});

test('new and all-zero pages are not checked', () => {
  const zero = Buffer.alloc(pageSize);
  assert.equal(pageIsZero(zero), true);
  assert.equal(pageIsNew(zero), true);
  assert.equal(verifyPage(zero, 0, 7), 'new');
  const newButDirty = Buffer.alloc(pageSize);
  newButDirty[100] = 1;
  assert.equal(pageIsZero(newButDirty), false);
  assert.equal(verifyPage(newButDirty, 0, 7), 'new');
  assert.equal(pageIsNew(realPages, 0), false);
  assert.equal(pageIsZero(realPages, 0), false);
});

test('page helpers refuse to read past the buffer', () => {
  assert.throws(() => pageLsn(realPages, 2 * pageSize + 1), /overruns/);
  assert.throws(() => pageChecksum(realPages, 0, -1), /bad block number/);
});

test('relationSegmentNumber and relationBlockNumber follow the 1 GiB segment files', () => {
  assert.equal(relationSegmentNumber('16427'), 0);
  assert.equal(relationSegmentNumber('16427.3'), 3);
  assert.equal(relationSegmentNumber('16427_vm.1'), 1);
  assert.equal(relationSegmentNumber(realPagesFile), 0);
  assert.equal(relationSegmentNumber('pg_tblspc/16400/PG_15_202209061/5/16427.12'), 12);
  assert.throws(() => relationSegmentNumber('pg_control'), /not a relation file name/);
  assert.equal(relationBlockNumber('16427', 5), 5);
  assert.equal(relationBlockNumber('16427.3', 1), 3 * blocksPerSegment + 1);
  assert.equal(relationBlockNumber('16427.3', 1), foreignBlockChecksums[0]?.blockNo);
});
