// e2e: `pgpilot up` with an invalid manifest exits non-zero with a clear message and starts nothing.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../support/cli.js';

let home = '';
before(async () => {
  home = await fs.mkdtemp(path.join(os.tmpdir(), 'pgpilot-invalid-'));
});
after(async () => fs.rm(home, { recursive: true, force: true }));

const cases: Array<{ name: string; yaml: string; says: RegExp }> = [
  { name: 'instances out of range', yaml: 'spec: {instances: 0}', says: /spec\.instances: must be between 1 and 9, got 0/ },
  { name: 'misspelled field', yaml: 'spec: {postgres: {prot: 5999}}', says: /spec\.postgres\.prot: unknown field \(did you mean "port"\?\)/ },
  { name: 'wrong type', yaml: 'spec: {instances: three}', says: /spec\.instances: must be an integer/ },
  { name: 'YAML syntax', yaml: 'spec: {instances: [1, 2}', says: /line \d+, column \d+/ },
];

for (const c of cases) {
  test(`up refuses a manifest with ${c.name}`, async () => {
    const file = path.join(home, 'bad.yaml');
    await fs.writeFile(file, `apiVersion: pgpilot.dev/v1\nkind: PostgresCluster\nmetadata: {name: bad}\n${c.yaml}\n`);
    const r = await runCli(['up', '-f', file, '--detach'], { PGPILOT_HOME: home }, 30_000);
    assert.equal(r.code, 10, `exit code of a config error; stderr: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`invalid manifest ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    assert.match(r.stderr, c.says);
    assert.match(r.stderr, /hint: /);
    assert.deepEqual(await fs.readdir(home), ['bad.yaml'], 'nothing was created');
  });
}

test('an unknown cluster name gets a NotFound error with a hint', async () => {
  const r = await runCli(['status', 'nosuch'], { PGPILOT_HOME: home }, 30_000);
  assert.equal(r.code, 40);
  assert.match(r.stderr, /no cluster "nosuch"/);
  assert.match(r.stderr, /hint: /);
});
