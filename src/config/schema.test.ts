// Unit tests of the schema language itself: suggestions, unions, maps, derived defaults and paths.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { boolean, childPath, closest, editDistance, integer, map, number, object, string, union, validate } from './schema.js';

test('edit distance counts an adjacent swap as one edit', () => {
  assert.equal(editDistance('prot', 'port'), 1);
  assert.equal(editDistance('listen', 'listen'), 0);
  assert.equal(editDistance('', 'abc'), 3);
  assert.equal(editDistance('kitten', 'sitting'), 3);
});

test('suggestions ignore case and separators, and stay silent when nothing is close', () => {
  const known = ['loopWait', 'retryTimeout', 'ttl'];
  assert.equal(closest('loop_wait', known), 'loopWait');
  assert.equal(closest('retrytimout', known), 'retryTimeout');
  assert.equal(closest('tll', known), 'ttl');
  assert.equal(closest('instances', known), undefined);
});

test('a union takes the first option the value fits, else names them all', () => {
  const value = union([integer(), string(), boolean()]);
  assert.deepEqual(validate(value, 7), { ok: true, value: 7 });
  assert.deepEqual(validate(value, 'on'), { ok: true, value: 'on' });
  assert.deepEqual(validate(value, 1.5, 'x'), {
    ok: false,
    issues: [{ path: 'x', problem: 'must be an integer, a string or true/false, got 1.5' }],
  });
});

test('map keys that are not plain names are quoted in paths', () => {
  assert.equal(childPath('p', 'pg_stat_statements.track'), 'p["pg_stat_statements.track"]');
  assert.equal(childPath('', 'spec'), 'spec');
  const node = map(number({ min: 0 }));
  assert.deepEqual(validate(node, { 'a.b': -1 }, 'p'), {
    ok: false,
    issues: [{ path: 'p["a.b"]', problem: 'must be at least 0, got -1' }],
  });
});

test('a derived default reads its validated siblings, and waits for them to be valid', () => {
  const node = object({
    listen: string({ default: 'localhost' }),
    connect: string({ derive: { doc: 'same as listen', from: ({ listen }) => listen } }),
  });
  assert.deepEqual(validate(node, {}), { ok: true, value: { listen: 'localhost', connect: 'localhost' } });
  assert.deepEqual(validate(node, { listen: 1 }), {
    ok: false,
    issues: [{ path: 'listen', problem: 'must be a string, got 1' }],
  });
});
