// Unit tests of LSN parsing and formatting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatLsn, lsnDiff, parseLsn } from './lsn.js';

test('parses and formats LSNs both ways', () => {
  assert.equal(parseLsn('0/3000060'), 0x3000060n);
  assert.equal(parseLsn('16/B374D848'), (0x16n << 32n) | 0xb374d848n);
  assert.equal(formatLsn(parseLsn('16/B374D848')), '16/B374D848');
  assert.equal(formatLsn(0n), '0/0');
});

test('rejects text that is not an LSN', () => {
  assert.throws(() => parseLsn('3000060'), /not an LSN: "3000060"/);
  assert.throws(() => parseLsn('0/XYZ'), /not an LSN/);
});

test('lsnDiff is the non-negative byte distance', () => {
  assert.equal(lsnDiff(parseLsn('0/3000100'), parseLsn('0/3000000')), 256);
  assert.equal(lsnDiff(parseLsn('0/3000000'), parseLsn('0/3000100')), 0);
});
