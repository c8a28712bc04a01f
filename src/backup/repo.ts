// Opens a backup repository: its storage, its info file (format, cluster identity, cipher) and its codec.
import { PgpilotError } from '../base/errors.js';
import type { BackupRepoSpec } from '../config/types.js';
import { openStorage } from '../storage/open-storage.js';
import type { StorageSpec } from '../storage/spec.js';
import type { Storage } from '../storage/storage.js';
import { type CodecOptions, storedExtension } from './codec/codec.js';
import type { CompressType } from './codec/compress.js';
import { type CipherHeader, newCipherHeader, readPassphrase, unlockKey } from './codec/key.js';
import { readS3Credentials } from './s3-credentials.js';

export const REPO_FORMAT = 1;
export const INFO_FILE = 'pgpilot.repo';
const INFO_COPY = 'pgpilot.repo.copy';

/** The repository's info file: written once, when the first backup or WAL segment arrives. */
export interface RepoInfo {
  format: number;
  /** PostgreSQL's system identifier of the cluster this repository belongs to. */
  systemId: string;
  pgVersion: number;
  created: string;
  cipher?: CipherHeader;
}

export interface Repo {
  readonly name: string;
  readonly storage: Storage;
  readonly info: RepoInfo;
  /** How new files are written: the repository's configured compression, and the key when encrypted. */
  readonly codec: CodecOptions;
  /** The AES key, or undefined when the repository is not encrypted. */
  readonly key: Buffer | undefined;
  /** The storage spec, to open the same storage in a worker thread. */
  readonly storageSpec: StorageSpec;
}

/** A repository as plain data, to open it again on a worker thread (openRepoRef). */
export type RepoRef = Omit<Repo, 'storage'>;

export const repoRef = (repo: Repo): RepoRef => ({ name: repo.name, info: repo.info, codec: repo.codec, key: repo.key, storageSpec: repo.storageSpec });

/** The repository a RepoRef names, its storage opened (the key came across as bytes: a Buffer again). */
export async function openRepoRef(ref: RepoRef): Promise<Repo> {
  const key = ref.key === undefined ? undefined : Buffer.from(ref.key);
  return { ...ref, key, codec: { ...ref.codec, key }, storage: await openStorage(ref.storageSpec) };
}

const defaultLevel: Record<CompressType, number> = { zstd: 1, lz4: 1, gzip: 6, none: 0 };

/** The codec for a compression type as stored, with the repository's key. */
export function codecFor(type: CompressType, level: number, key: Buffer | undefined): CodecOptions {
  return { compress: { type, level: level === 0 ? defaultLevel[type] : level }, key };
}

export async function storageSpecFor(spec: BackupRepoSpec): Promise<StorageSpec> {
  if (spec.path !== '') return { kind: 'posix', path: spec.path };
  const creds = await readS3Credentials(spec.s3.credentialsFile);
  return {
    kind: 's3',
    bucket: spec.s3.bucket,
    ...(spec.s3.endpoint === '' ? {} : { endpoint: spec.s3.endpoint }),
    region: spec.s3.region,
    prefix: spec.s3.prefix,
    accessKeyId: creds.accessKeyId,
    secretAccessKey: creds.secretAccessKey,
    forcePathStyle: spec.s3.forcePathStyle,
  };
}

export interface OpenRepoOptions {
  /** Create the info file when the repository is empty (backup, archive push); otherwise an empty repo is an error. */
  create?: { systemId: string; pgVersion: number };
}

/** Opens the repository; checks it belongs to the cluster (system identifier) and unlocks its key. */
export async function openRepo(spec: BackupRepoSpec, options: OpenRepoOptions = {}): Promise<Repo> {
  const storageSpec = await storageSpecFor(spec);
  const storage = await openStorage(storageSpec);
  const passphrase = spec.encryption.passphraseFile === '' ? undefined : await readPassphrase(spec.encryption.passphraseFile);
  let info = await readInfo(storage);
  if (info === undefined) {
    if (options.create === undefined) {
      throw new PgpilotError('Repo', `repository ${spec.name} at ${storage.location} holds no pgpilot repository`, {
        hint: 'take a backup first (pgpilot backup NAME), or check the path, bucket and prefix',
      });
    }
    info = await createInfo(storage, options.create, passphrase);
  }
  if (info.format !== REPO_FORMAT) {
    throw new PgpilotError('Repo', `repository ${spec.name} at ${storage.location} has format ${info.format}; this pgpilot reads ${REPO_FORMAT}`);
  }
  if (options.create !== undefined && info.systemId !== options.create.systemId) {
    throw new PgpilotError(
      'Repo',
      `repository ${spec.name} at ${storage.location} belongs to the cluster with system identifier ${info.systemId}, not ${options.create.systemId}`,
      { hint: 'give each cluster its own repository path or prefix' },
    );
  }
  const key = await repoKey(spec, storage, info, passphrase);
  return { name: spec.name, storage, info, key, storageSpec, codec: codecFor(spec.compress.type, spec.compress.level, key) };
}

async function repoKey(spec: BackupRepoSpec, storage: Storage, info: RepoInfo, passphrase: string | undefined): Promise<Buffer | undefined> {
  if (info.cipher === undefined) {
    if (passphrase === undefined) return undefined;
    throw new PgpilotError('Config', `repository ${spec.name} at ${storage.location} is not encrypted, but encryption.passphraseFile is set`, {
      hint: 'use a new repository for encrypted backups, or remove encryption.passphraseFile',
    });
  }
  if (passphrase === undefined) {
    throw new PgpilotError('Crypto', `repository ${spec.name} at ${storage.location} is encrypted and no passphrase is configured`, {
      hint: 'set spec.backup.repos[].encryption.passphraseFile',
    });
  }
  return unlockKey(info.cipher, passphrase, `${spec.name} (${storage.location})`);
}

async function readInfo(storage: Storage): Promise<RepoInfo | undefined> {
  for (const file of [INFO_FILE, INFO_COPY]) {
    const st = await storage.stat(file);
    if (st === undefined) continue;
    try {
      return JSON.parse((await storage.readBuffer(file)).toString('utf8')) as RepoInfo;
    } catch {
      continue;
    }
  }
  return undefined;
}

async function createInfo(storage: Storage, create: { systemId: string; pgVersion: number }, passphrase: string | undefined): Promise<RepoInfo> {
  const info: RepoInfo = { format: REPO_FORMAT, systemId: create.systemId, pgVersion: create.pgVersion, created: new Date().toISOString() };
  if (passphrase !== undefined) info.cipher = (await newCipherHeader(passphrase)).header;
  const text = Buffer.from(`${JSON.stringify(info, null, 2)}\n`);
  await storage.write(INFO_COPY, text);
  await storage.write(INFO_FILE, text);
  return info;
}

/** The file-name suffix for new files of this repository. */
export function repoExtension(repo: Repo): string {
  return storedExtension(repo.codec);
}
