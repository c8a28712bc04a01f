// Authenticated encryption of stored files: AES-256-GCM records, so a stream of any size decrypts with bounded memory.
//
// Format: header = 'PGPE', version 1, 12-byte random nonce base; then records [u32 BE length][ciphertext][16-byte tag].
// Record i uses nonce = base XOR i (64-bit BE in the last 8 bytes) and AAD = header + i (u64 BE) + final flag. The last
// record is always an empty one with the final flag set, so a reader tells a cut file (no final record) from a whole
// one; reordered or appended records fail authentication.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { PgpilotError, assert } from '../../base/errors.js';

const MAGIC = Buffer.from('PGPE', 'latin1');
const VERSION = 1;
const NONCE = 12;
const HEADER = MAGIC.length + 1 + NONCE;
const LENGTH = 4;
const TAG = 16;
const CIPHER = 'aes-256-gcm';
/** The largest record a reader accepts; writers seal compressed frames, far smaller. */
const RECORD_LIMIT = 8 * 1024 * 1024;
const EMPTY = Buffer.alloc(0);

function nonceOf(header: Buffer, index: bigint): Buffer {
  const nonce = Buffer.from(header.subarray(HEADER - NONCE));
  nonce.writeBigUInt64BE(nonce.readBigUInt64BE(NONCE - 8) ^ index, NONCE - 8);
  return nonce;
}

function aadOf(header: Buffer, index: bigint, final: boolean): Buffer {
  const aad = Buffer.allocUnsafe(HEADER + 9);
  header.copy(aad);
  aad.writeBigUInt64BE(index, HEADER);
  aad[HEADER + 8] = final ? 1 : 0;
  return aad;
}

/** The writing side: turns chunks into records, the stream header first. */
export class Sealer {
  private readonly header: Buffer;
  private index = 0n;

  constructor(private readonly key: Buffer) {
    assert(key.length === 32, 'an AES-256 key is 32 bytes');
    this.header = Buffer.concat([MAGIC, Buffer.of(VERSION), randomBytes(NONCE)]);
  }

  /** The bytes of one record holding `plain` (not empty), preceded by the stream header on the first call. */
  seal(plain: Buffer): Buffer[] {
    assert(plain.length > 0 && plain.length <= RECORD_LIMIT, `cannot seal a record of ${plain.length} bytes`);
    return this.record(plain, false);
  }

  /** The final, empty record that ends the stream (with the header first when nothing else was sealed). */
  end(): Buffer[] {
    return this.record(EMPTY, true);
  }

  private record(plain: Buffer, final: boolean): Buffer[] {
    const cipher = createCipheriv(CIPHER, this.key, nonceOf(this.header, this.index));
    cipher.setAAD(aadOf(this.header, this.index, final));
    const ciphertext = cipher.update(plain);
    cipher.final();
    const length = Buffer.allocUnsafe(LENGTH);
    length.writeUInt32BE(ciphertext.length);
    const parts: Buffer[] = final ? [length, cipher.getAuthTag()] : [length, ciphertext, cipher.getAuthTag()];
    if (this.index === 0n) parts.unshift(this.header);
    this.index++;
    return parts;
  }
}

/** The reading side: takes records off the front of the pending input, checking each before handing it out. */
export class Decryptor {
  private header: Buffer | undefined;
  private index = 0n;
  private finished = false;

  /** `what` names the stream in errors (e.g. the object's path). */
  constructor(
    private readonly key: Buffer,
    private readonly what: string,
  ) {
    assert(key.length === 32, 'an AES-256 key is 32 bytes');
  }

  /**
   * Decrypts the record at the start of `input` (after the header, for the first): returns its plaintext and the bytes
   * it used, or undefined while the record is incomplete. The final record's plaintext is empty, and only its.
   */
  next(input: Buffer): { used: number; plain: Buffer } | undefined {
    if (this.finished) {
      if (input.length > 0) throw this.tampered('data follows the final record');
      return undefined;
    }
    const at = this.header === undefined ? HEADER : 0;
    if (input.length < at + LENGTH) return undefined;
    const header = this.header ?? this.readHeader(input);
    const length = input.readUInt32BE(at);
    if (length > RECORD_LIMIT) throw this.tampered(`a record declares ${length} bytes`);
    const end = at + LENGTH + length + TAG;
    if (input.length < end) return undefined;
    const final = length === 0;
    const decipher = createDecipheriv(CIPHER, this.key, nonceOf(header, this.index), { authTagLength: TAG });
    decipher.setAAD(aadOf(header, this.index, final));
    decipher.setAuthTag(input.subarray(end - TAG, end));
    const plain = decipher.update(input.subarray(at + LENGTH, end - TAG));
    try {
      decipher.final();
    } catch (e) {
      throw this.tampered(`record ${this.index} fails authentication`, e);
    }
    this.header = header;
    this.index++;
    this.finished = final;
    return { used: end, plain };
  }

  /** Checks, once the input is over, that the final record came: anything else is a cut file. */
  end(): void {
    if (this.finished) return;
    throw new PgpilotError('Corrupt', `${this.what} is truncated: its encrypted stream ends before the final record`, {
      hint: 'the file was cut short (an interrupted write or copy); restore it from another copy or take a new backup',
    });
  }

  private readHeader(input: Buffer): Buffer {
    if (!input.subarray(0, MAGIC.length).equals(MAGIC) || input[MAGIC.length] !== VERSION) {
      throw this.tampered('it does not start with an encrypted stream header (PGPE, version 1)');
    }
    return Buffer.from(input.subarray(0, HEADER));
  }

  private tampered(detail: string, cause?: unknown): PgpilotError {
    return new PgpilotError('Crypto', `cannot decrypt ${this.what}: wrong passphrase or tampered data (${detail})`, {
      hint: `check spec.backup.repos[].encryption.passphraseFile; if it is right, ${this.what} was altered or damaged`,
      cause,
    });
  }
}
