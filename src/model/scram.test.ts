// Unit tests of SCRAM-SHA-256: RFC 7677's example, a verifier PostgreSQL 15 stored, salting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { isScramVerifier, scramKeys, scramVerifier, verifierMatches } from './scram.js';

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

test('SCRAM verifiers have PostgreSQL format and depend on the salt only', async () => {
  const salt = Buffer.alloc(16, 7);
  const a = await scramVerifier('secret', salt);
  assert.equal(a, await scramVerifier('secret', salt));
  assert.match(a, /^SCRAM-SHA-256\$4096:BwcHBwcHBwcHBwcHBwcHBw==\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=$/);
  assert.notEqual(a, await scramVerifier('other', salt));
  assert.notEqual(a, await scramVerifier('secret'));
  assert.ok(!a.includes('secret'));
});

test('recognises the verifier form', async () => {
  assert.equal(isScramVerifier(await scramVerifier('x')), true);
  assert.equal(isScramVerifier('md5abcdef'), false);
});
