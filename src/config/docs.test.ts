// Checks that docs/manifest.md is what the generator writes from the schemas today.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { renderReference } from './docs.js';

test('docs/manifest.md is up to date with the schemas', async () => {
  const written = await readFile(new URL('../../../docs/manifest.md', import.meta.url), 'utf8');
  assert.ok(written === renderReference(), 'docs/manifest.md is out of date: run `npm run build && npm run docs:manifest`');
});
