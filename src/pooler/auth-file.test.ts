// Unit tests of the auth_file: verifiers of generated passwords, quoting and refusals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAuthFile, renderAuthFile, scramVerifier, verifierMatches } from './auth-file.js';

test('salts each new verifier and refuses passwords SASLprep would change', async () => {
  const [a, b] = await Promise.all([scramVerifier('secret'), scramVerifier('secret')]);
  assert.notEqual(a, b);
  assert.match(a, /^SCRAM-SHA-256\$4096:[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=$/);
  await assert.rejects(scramVerifier(''), /non-empty printable ASCII/);
  await assert.rejects(scramVerifier('pässword'), /non-empty printable ASCII/);
});

test('renders sorted, quoted lines that parse back', async () => {
  const v1 = await scramVerifier('one');
  const v2 = await scramVerifier('two');
  const text = renderAuthFile([{ user: 'zed', verifier: v1 }, { user: 'we "quote"', verifier: v2 }]);
  assert.equal(text, `"we ""quote""" "${v2}"\n"zed" "${v1}"\n`);
  assert.deepEqual(parseAuthFile(`${text}; a comment\n\n`), [{ user: 'we "quote"', verifier: v2 }, { user: 'zed', verifier: v1 }]);
  assert.equal(renderAuthFile([]), '');
});

test('refuses plain passwords, duplicates and line breaks', async () => {
  const v = await scramVerifier('one');
  assert.throws(() => renderAuthFile([{ user: 'app', verifier: 'plain-password' }]), /not a SCRAM-SHA-256 verifier/);
  assert.throws(() => renderAuthFile([{ user: 'app', verifier: v }, { user: 'app', verifier: v }]), /listed twice/);
  assert.throws(() => renderAuthFile([{ user: 'a\nb', verifier: v }]), /invalid pooler user name/);
});

test('a generated verifier matches its password only, and non-ASCII passwords never match', async () => {
  const v = await scramVerifier('letters1and2digits');
  assert.equal(await verifierMatches('letters1and2digits', v), true);
  assert.equal(await verifierMatches('letters1and2digitz', v), false);
  assert.equal(await verifierMatches('pässword', v), false);
});
