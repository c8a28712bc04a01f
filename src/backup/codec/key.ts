// The key of an encrypted repository: a passphrase from a 0600 file, stretched with scrypt, checked against the header.
import { createCipheriv, createDecipheriv, randomBytes, scrypt } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { PgpilotError, assert, errorMessage } from '../../base/errors.js';

/** How a repository is encrypted; stored (as JSON) in the repository's info file. */
export interface CipherHeader {
  cipher: 'aes-256-gcm';
  kdf: 'scrypt';
  /** Base64 of the 16-byte random scrypt salt. */
  salt: string;
  /** Base64 of nonce + ciphertext + tag of a known text, to tell a wrong passphrase before reading any file. */
  check: string;
}

const SALT = 16;
const NONCE = 12;
const TAG = 16;
const KEY = 32;
// N=2^15, r=8 needs 128 * N * r = 32 MiB; maxmem is a ceiling, not an allocation.
const SCRYPT = { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };
const CHECK_TEXT = Buffer.from('pgpilot repository key', 'latin1');
const PASSPHRASE_HINT = 'check spec.backup.repos[].encryption.passphraseFile';

function deriveKey(passphrase: string, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(passphrase, salt, KEY, SCRYPT, (err, key) => (err === null ? resolve(key) : reject(err)));
  });
}

/** A new random salt and the key it gives `passphrase`, with the header that lets unlockKey check it later. */
export async function newCipherHeader(passphrase: string): Promise<{ header: CipherHeader; key: Buffer }> {
  assert(passphrase !== '', 'an empty passphrase');
  const salt = randomBytes(SALT);
  const key = await deriveKey(passphrase, salt);
  const nonce = randomBytes(NONCE);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  const sealed = Buffer.concat([nonce, cipher.update(CHECK_TEXT), cipher.final(), cipher.getAuthTag()]);
  return { header: { cipher: 'aes-256-gcm', kdf: 'scrypt', salt: salt.toString('base64'), check: sealed.toString('base64') }, key };
}

/** The key of the repository at `where` (named in errors), once the passphrase has opened the header's check. */
export async function unlockKey(header: CipherHeader, passphrase: string, where: string): Promise<Buffer> {
  const salt = fromBase64(header.salt);
  const check = fromBase64(header.check);
  if (header.cipher !== 'aes-256-gcm' || header.kdf !== 'scrypt' || salt.length !== SALT || check.length !== NONCE + CHECK_TEXT.length + TAG) {
    throw new PgpilotError('Corrupt', `the encryption header of the repository at ${where} is malformed`, {
      hint: 'the repository info file was altered, or written by another pgpilot version',
    });
  }
  const key = await deriveKey(passphrase, salt);
  const decipher = createDecipheriv('aes-256-gcm', key, check.subarray(0, NONCE), { authTagLength: TAG });
  decipher.setAuthTag(check.subarray(check.length - TAG));
  const text = decipher.update(check.subarray(NONCE, check.length - TAG));
  let authentic = true;
  try {
    decipher.final();
  } catch {
    authentic = false;
  }
  if (!authentic || !text.equals(CHECK_TEXT)) {
    throw new PgpilotError('Crypto', `wrong passphrase for the encrypted repository at ${where}`, { hint: PASSPHRASE_HINT });
  }
  return key;
}

/** The bytes of a base64 field read from JSON; anything but a string gives none. */
function fromBase64(value: unknown): Buffer {
  return typeof value === 'string' ? Buffer.from(value, 'base64') : Buffer.alloc(0);
}

/** The passphrase in `file`, without its trailing newline; the file must be private to its owner (mode 0600). */
export async function readPassphrase(file: string): Promise<string> {
  let handle: FileHandle;
  try {
    handle = await open(file, 'r');
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
    throw new PgpilotError('Config', missing ? `passphrase file ${file} does not exist` : `cannot read passphrase file ${file}: ${errorMessage(e)}`, {
      hint: `${PASSPHRASE_HINT}: the file holds the passphrase on one line, mode 0600`,
      cause: e,
    });
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new PgpilotError('Config', `passphrase file ${file} is not a regular file`, { hint: PASSPHRASE_HINT });
    if ((stat.mode & 0o077) !== 0) {
      const mode = (stat.mode & 0o777).toString(8).padStart(4, '0');
      throw new PgpilotError('Config', `passphrase file ${file} is open to group or others (mode ${mode})`, { hint: `chmod 600 ${file}` });
    }
    const passphrase = (await handle.readFile('utf8')).replace(/\r?\n$/, '');
    if (passphrase === '') throw new PgpilotError('Config', `passphrase file ${file} is empty`, { hint: PASSPHRASE_HINT });
    return passphrase;
  } finally {
    await handle.close();
  }
}
