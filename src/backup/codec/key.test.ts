// Unit tests of repository keys: header round trip through JSON, wrong passphrases, and passphrase files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PgpilotError } from '../../base/errors.js';
import { newCipherHeader, readPassphrase, unlockKey, type CipherHeader } from './key.js';

const isCode = (code: string, text?: RegExp) => (e: unknown): boolean =>
  e instanceof PgpilotError && e.code === code && (text === undefined || text.test(e.message));

test('the header survives JSON and unlocks the same key with the same passphrase', async () => {
  const { header, key } = await newCipherHeader('correct horse');
  assert.equal(key.length, 32);
  assert.equal(header.cipher, 'aes-256-gcm');
  assert.equal(header.kdf, 'scrypt');
  assert.equal(Buffer.from(header.salt, 'base64').length, 16);
  const stored = JSON.parse(JSON.stringify(header)) as CipherHeader;
  assert.deepEqual(await unlockKey(stored, 'correct horse', 'repo1 (/backups)'), key);
  const other = await newCipherHeader('correct horse');
  assert.notDeepEqual(other.key, key, 'a new salt gives a new key');
});

test('a wrong passphrase is a Crypto error naming the repository, with a hint', async () => {
  const { header } = await newCipherHeader('right');
  await assert.rejects(unlockKey(header, 'wrong', 'repo1 (/backups)'), (e) =>
    isCode('Crypto', /^wrong passphrase for the encrypted repository at repo1 \(\/backups\)$/)(e) &&
    (e as PgpilotError).hint === 'check spec.backup.repos[].encryption.passphraseFile');
});

test('a malformed header is Corrupt', async () => {
  const { header } = await newCipherHeader('right');
  const broken = [{ ...header, salt: 'AAAA' }, { ...header, check: '' }, { ...header, kdf: 'pbkdf2' }, { ...header, salt: undefined }];
  for (const h of broken) await assert.rejects(unlockKey(h as unknown as CipherHeader, 'right', 'r'), isCode('Corrupt', /header of the repository at r is malformed/));
});

test('passphrase files: one trailing newline trimmed, private mode required, empty or missing refused', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pgpilot-passphrase-'));
  try {
    const write = async (name: string, text: string, mode: number): Promise<string> => {
      const file = path.join(dir, name);
      await fs.writeFile(file, text);
      await fs.chmod(file, mode);
      return file;
    };
    assert.equal(await readPassphrase(await write('a', 'two words \n', 0o600)), 'two words ');
    assert.equal(await readPassphrase(await write('b', 'crlf\r\n', 0o400)), 'crlf');
    assert.equal(await readPassphrase(await write('c', 'inner\nline\n\n', 0o600)), 'inner\nline\n');
    const open = await write('d', 'secret\n', 0o644);
    await assert.rejects(readPassphrase(open), (e) =>
      isCode('Config', /is open to group or others \(mode 0644\)/)(e) && (e as PgpilotError).hint === `chmod 600 ${open}`);
    await assert.rejects(readPassphrase(await write('e', '\n', 0o600)), isCode('Config', /passphrase file .*\/e is empty/));
    await assert.rejects(readPassphrase(path.join(dir, 'missing')), isCode('Config', /passphrase file .*\/missing does not exist/));
    await assert.rejects(readPassphrase(dir), isCode('Config', /not a regular file/));
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
