// Unit tests of the auth_file and SCRAM verifiers: RFC 7677's example, a PostgreSQL 15 verifier, quoting and refusals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { parseAuthFile, renderAuthFile, scramKeys, scramVerifier, verifierMatches } from './auth-file.js';

test('derives the keys of RFC 7677 section 3: its server signature and client proof check out', async () => {
  const salt = Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64');
  const { storedKey, serverKey } = await scramKeys('pencil', salt, 4096);
  const nonce = 'rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0';
  const authMessage = `n=user,r=rOprNGfwEbeRWgbNEkqO,r=${nonce},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,c=biws,r=${nonce}`;
  assert.equal(createHmac('sha256', serverKey).update(authMessage).digest('base64'), '6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=');
  // ClientKey = ClientProof XOR HMAC(StoredKey, AuthMessage), and StoredKey = H(ClientKey): the proof must verify.
  const proof = Buffer.from('dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=', 'base64');
  const signature = createHmac('sha256', storedKey).update(authMessage).digest();
  const clientKey = Buffer.from(proof.map((b, i) => b ^ (signature[i] ?? 0)));
  assert.deepEqual(createHash('sha256').update(clientKey).digest(), storedKey);
});

test('makes the verifier PostgreSQL 15 stored for the same password and salt', async () => {
  // rolpassword of a role created with PASSWORD 'apppw' under password_encryption = 'scram-sha-256'.
  const fromPostgres = 'SCRAM-SHA-256$4096:jlV+7Bq3Er4bLFniVP/drA==$6OS5yHrIh8S2r1hh0QaCzzpAu0p9WeenPK1VdiJJm4k=:VJ/xptBHRJZOZUe/mHbsfDbOGaHPSCcBlbLaEJBS4eM=';
  assert.equal(await scramVerifier('apppw', Buffer.from('jlV+7Bq3Er4bLFniVP/drA==', 'base64')), fromPostgres);
  assert.equal(await verifierMatches('apppw', fromPostgres), true);
  assert.equal(await verifierMatches('apppx', fromPostgres), false);
  assert.equal(await verifierMatches('apppw', 'md5abc'), false);
});

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
