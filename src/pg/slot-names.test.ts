// Unit tests of member-name to slot-name mapping.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { slotName } from './slot-names.js';

test('maps member names to valid slot names', () => {
  assert.equal(slotName('ha-1'), 'ha_1');
  assert.equal(slotName('Node.B'), 'node_b');
  assert.equal(slotName('db_07'), 'db_07');
  assert.equal(slotName('x'.repeat(80)), 'x'.repeat(63));
  assert.throws(() => slotName(''), /empty member name/);
});
