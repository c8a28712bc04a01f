// Unit tests of a WAL scan cut into parts: where the cuts fall, where the first record of a segment starts (past a
// record continued from the segment before), and what the parts found, merged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type WalChanges, WalScanError, firstRecordStart, mergeChanges, scanParts } from './wal-records.js';

const PAGE = 8192;
const SEG = 4 * PAGE;

/** A segment of 4 pages starting at LSN `at`; `continued[i]`, when given, is page i's xlp_rem_len (a continuation). */
function segment(at: number, continued: (number | undefined)[]): Buffer {
  const b = Buffer.alloc(SEG);
  for (let p = 0; p < 4; p++) {
    const o = p * PAGE;
    const rest = continued[p];
    b.writeUInt16LE(0xd110, o);
    b.writeUInt16LE((p === 0 ? 0x0002 : 0) | (rest === undefined ? 0 : 0x0001), o + 2);
    b.writeUInt32LE((at + o) % 2 ** 32, o + 8);
    b.writeUInt32LE(Math.floor((at + o) / 2 ** 32), o + 12);
    b.writeUInt32LE(rest ?? 0, o + 16);
  }
  return b;
}

test('a scan is cut at segment boundaries into parts of about as many segments', () => {
  assert.deepEqual(scanParts(100, 3 * SEG + 50, 2, SEG), [
    { start: 100, end: 2 * SEG, atBoundary: false },
    { start: 2 * SEG, end: 3 * SEG + 50, atBoundary: true },
  ]);
  assert.deepEqual(scanParts(100, SEG - 8, 4, SEG), [{ start: 100, end: SEG - 8, atBoundary: false }], 'one segment: one part');
  assert.equal(scanParts(0, 10 * SEG, 3, SEG).length, 3);
  assert.deepEqual(scanParts(0, 10 * SEG, 0, SEG), [{ start: 0, end: 10 * SEG, atBoundary: false }], 'no parallelism: one part');
});

test('the first record of a segment starts after its header, or after the rest of a continued record', () => {
  const at = 5 * 2 ** 32 + SEG * 3;
  assert.equal(firstRecordStart(segment(at, []), at), at + 40, 'no continuation: right after the long header');
  assert.equal(firstRecordStart(segment(at, [100]), at), at + 40 + 104, 'a continuation of 100 bytes, the next record 8-aligned');
  // PAGE + 500 bytes left: 8152 on the first page, 540 on the second.
  assert.equal(firstRecordStart(segment(at, [PAGE + 500, 540]), at), at + PAGE + 24 + 544, 'a continuation over a page');
  assert.equal(firstRecordStart(segment(at, [PAGE - 40, undefined]), at), at + PAGE + 24, 'a continuation filling the first page exactly');
  assert.equal(firstRecordStart(segment(at, [4 * PAGE, 3 * PAGE, 2 * PAGE, PAGE]), at), undefined, 'one record runs through the segment');
  assert.throws(() => firstRecordStart(segment(at, []), at + SEG), WalScanError, 'a page with another address (recycled) is refused');
});

test('the parts\' findings merge: blocks unite, the lowest truncation point wins, records add up', () => {
  const a: WalChanges = { blocks: new Map([['1663/5/1/0', new Set([1, 2])]]), from: new Map([['1663/5/2/0', 7]]), databases: new Set([9]), records: 3 };
  const b: WalChanges = { blocks: new Map([['1663/5/1/0', new Set([2, 3])], ['1663/5/4/0', new Set([0])]]), from: new Map([['1663/5/2/0', 4]]), databases: new Set(), records: 5 };
  const m = mergeChanges([a, b]);
  assert.deepEqual([...m.blocks].map(([k, s]) => [k, [...s].sort()]), [['1663/5/1/0', [1, 2, 3]], ['1663/5/4/0', [0]]]);
  assert.deepEqual([...m.from], [['1663/5/2/0', 4]]);
  assert.deepEqual([...m.databases], [9]);
  assert.equal(m.records, 8);
  assert.deepEqual([...a.blocks.get('1663/5/1/0') ?? []], [1, 2], 'the parts are left as they were');
});
