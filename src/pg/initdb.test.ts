// Unit tests of the initdb locale choice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pickLocale } from './initdb.js';

test('prefers C.UTF-8 when the system has it', () => {
  assert.equal(pickLocale('C\nC.utf8\nPOSIX\n'), 'C.UTF-8');
  assert.equal(pickLocale('C.UTF-8\n'), 'C.UTF-8');
  assert.equal(pickLocale('C\nPOSIX\nen_US.utf8\n'), 'C');
  assert.equal(pickLocale(''), 'C');
});
