// Unit tests of command-line parsing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseArgs, type CommandSpec } from './args.js';

const spec: CommandSpec = {
  name: 'psql', usage: 'pgpilot psql NAME [--replica] [-- ARGS]', summary: 'x', positionals: ['NAME'], passthrough: true,
  flags: { replica: { kind: 'boolean', help: 'r' }, member: { kind: 'string', short: 'm', help: 'm' } },
};

test('parses positionals, flags in both forms, and passthrough arguments', () => {
  const a = parseArgs(spec, ['ha', '--replica', '-m', 'ha-1', '--', '-c', 'select 1']);
  assert.deepEqual(a, { positionals: ['ha'], flags: { replica: true, member: 'ha-1' }, rest: ['-c', 'select 1'] });
  assert.deepEqual(parseArgs(spec, ['--member=ha-2', 'ha']).flags, { member: 'ha-2' });
});

test('reports unknown options, missing values and missing or extra arguments', () => {
  assert.throws(() => parseArgs(spec, ['ha', '--replcia']), /unknown option --replcia/);
  assert.throws(() => parseArgs(spec, ['ha', '--member']), /--member needs a value/);
  assert.throws(() => parseArgs(spec, []), /missing NAME/);
  assert.throws(() => parseArgs(spec, ['ha', 'extra']), /unexpected argument "extra"/);
});
