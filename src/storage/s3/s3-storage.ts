// The s3 storage driver: a repository under a prefix of an S3 (or S3-compatible) bucket, via the AWS SDK v3.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type ListObjectsV2CommandOutput,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { AssertionFailure, PgpilotError, assert, errorMessage } from '../../base/errors.js';
import { byPath, checkPath, checkPrefix, checkTreePrefix, sourceErrors } from '../common.js';
import type { StorageSpec } from '../spec.js';
import type { Storage, StorageCapabilities, StoredObject } from '../storage.js';

export type S3StorageSpec = Extract<StorageSpec, { kind: 's3' }>;

/** Multipart part size for streamed writes; with QUEUE_SIZE parts in flight, a write buffers at most 16 MiB. */
const PART_SIZE = 8 * 1024 * 1024;
const QUEUE_SIZE = 2;
/** DeleteObjects takes at most 1000 keys. */
const DELETE_BATCH = 1000;
/** Parallel single deletes when the server lacks DeleteObjects. */
const DELETE_CONCURRENCY = 8;

/** Network failures worth naming as "cannot reach the endpoint". */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE']);
const ACCESS_NAMES = new Set(['AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'Forbidden', 'InvalidToken', 'ExpiredToken']);
/** Answers to DeleteObjects meaning "not supported here": fall back to one DeleteObject per key. */
const NO_BATCH_DELETE = new Set(['NotImplemented', 'MethodNotAllowed', 'MissingContentMD5', 'InvalidRequest']);

interface SdkError {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  errors?: unknown[];
  cause?: unknown;
}

/** A repository under `prefix` in an S3 bucket. Keys are `prefix/path` (just `path` when the prefix is empty). */
export class S3Storage implements Storage {
  readonly kind = 's3';
  readonly location: string;
  readonly capabilities: StorageCapabilities = { atomicRename: false };
  private readonly client: S3Client;
  private readonly bucket: string;
  /** The key prefix without slashes at either end; '' for the bucket's root. */
  private readonly root: string;
  private readonly endpoint: string;
  /** The bucket answered once: a later 404 without a body (HEAD) means a missing object, not a missing bucket. */
  private bucketSeen = false;
  private batchDelete = true;

  constructor(spec: S3StorageSpec) {
    assert(spec.bucket !== '', 's3 storage needs a bucket');
    this.bucket = spec.bucket;
    this.root = spec.prefix.split('/').filter((s) => s !== '').join('/');
    if (this.root !== '') checkPath(this.root);
    this.location = this.root === '' ? `s3://${this.bucket}` : `s3://${this.bucket}/${this.root}`;
    this.endpoint = spec.endpoint ?? `AWS S3 (${spec.region})`;
    // The SDK warns once per process that its 2027 releases need Node 22: noise for pgpilot's users, who run Node 20.
    process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
    this.client = new S3Client({
      region: spec.region,
      ...(spec.endpoint === undefined ? {} : { endpoint: spec.endpoint }),
      forcePathStyle: spec.forcePathStyle ?? false,
      credentials: { accessKeyId: spec.accessKeyId, secretAccessKey: spec.secretAccessKey },
      // Checksums only where S3 requires them: S3-compatible servers reject the aws-chunked trailers of the defaults.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: { connectionTimeout: 10_000 },
    });
  }

  async write(path: string, data: Readable | Buffer): Promise<void> {
    const key = this.key(path);
    const source = sourceErrors(data);
    try {
      if (Buffer.isBuffer(data)) {
        await this.client.send(
          new PutObjectCommand({
            Bucket: this.bucket,
            Key: key,
            Body: data,
            ContentLength: data.length,
            ContentMD5: createHash('md5').update(data).digest('base64'),
          }),
        );
      } else {
        const upload = new Upload({
          client: this.client,
          params: { Bucket: this.bucket, Key: key, Body: data },
          queueSize: QUEUE_SIZE,
          partSize: PART_SIZE,
          leavePartsOnError: false,
        });
        await upload.done();
      }
      this.bucketSeen = true;
    } catch (e) {
      if (!Buffer.isBuffer(data)) data.destroy();
      if (source.error !== undefined) throw source.error;
      throw this.failure(e, 'write', path);
    }
  }

  async read(path: string): Promise<Readable> {
    const key = this.key(path);
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      this.bucketSeen = true;
      assert(out.Body instanceof Readable, `GetObject of ${key} returned no stream`);
      return out.Body;
    } catch (e) {
      throw this.failure(e, 'read', path);
    }
  }

  async readBuffer(path: string): Promise<Buffer> {
    const key = this.key(path);
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      this.bucketSeen = true;
      assert(out.Body !== undefined, `GetObject of ${key} returned no body`);
      const bytes = await out.Body.transformToByteArray();
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    } catch (e) {
      throw this.failure(e, 'read', path);
    }
  }

  async stat(path: string): Promise<StoredObject | undefined> {
    const key = this.key(path);
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      this.bucketSeen = true;
      return { path, size: out.ContentLength ?? 0 };
    } catch (e) {
      if (!isNotFound(e)) throw this.failure(e, 'stat', path);
    }
    // HEAD answers a bare 404 for a missing bucket too: make sure the bucket is there once.
    await this.checkBucket();
    return undefined;
  }

  async list(prefix: string): Promise<StoredObject[]> {
    checkPrefix(prefix);
    const found: StoredObject[] = [];
    for await (const page of this.pages(this.keyPrefix(prefix), 'list', prefix)) {
      for (const o of page.Contents ?? []) {
        if (o.Key === undefined || o.Key.endsWith('/')) continue;
        found.push({ path: this.pathOf(o.Key), size: o.Size ?? 0 });
      }
    }
    return found.sort(byPath);
  }

  async remove(path: string): Promise<void> {
    const key = this.key(path);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
      this.bucketSeen = true;
    } catch (e) {
      if (!isNotFound(e) || isNoSuchBucket(e)) throw this.failure(e, 'remove', path);
    }
  }

  async removeTree(prefix: string): Promise<void> {
    const tree = checkTreePrefix(prefix);
    // Delete each listed page of keys before listing the next one (its continuation token resumes after the last key).
    for await (const page of this.pages(this.keyPrefix(tree), 'removeTree', tree)) {
      const keys = (page.Contents ?? []).flatMap((o) => (o.Key === undefined ? [] : [o.Key]));
      for (let i = 0; i < keys.length; i += DELETE_BATCH) await this.deleteKeys(keys.slice(i, i + DELETE_BATCH), tree);
    }
  }

  /** The pages of ListObjectsV2 under a key prefix. */
  private async *pages(keyPrefix: string, op: string, what: string): AsyncGenerator<ListObjectsV2CommandOutput> {
    let token: string | undefined;
    do {
      let page: ListObjectsV2CommandOutput;
      try {
        page = await this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            ...(keyPrefix === '' ? {} : { Prefix: keyPrefix }),
            ...(token === undefined ? {} : { ContinuationToken: token }),
          }),
        );
        this.bucketSeen = true;
      } catch (e) {
        throw this.failure(e, op, what);
      }
      yield page;
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
  }

  private async deleteKeys(keys: string[], tree: string): Promise<void> {
    if (keys.length === 0) return;
    if (this.batchDelete) {
      try {
        const out = await this.client.send(
          new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true } }),
        );
        const failed = out.Errors?.[0];
        if (failed !== undefined) {
          throw new PgpilotError(
            'Repo',
            `cannot remove s3://${this.bucket}/${failed.Key ?? '?'} (${out.Errors?.length ?? 1} failures): ${failed.Code ?? ''} ${failed.Message ?? ''}`.trim(),
            { hint: `check the credentials may delete objects in bucket ${this.bucket} (endpoint ${this.endpoint})` },
          );
        }
        return;
      } catch (e) {
        if (e instanceof PgpilotError) throw e;
        const name = (e as SdkError).name ?? '';
        const status = (e as SdkError).$metadata?.httpStatusCode;
        if (!NO_BATCH_DELETE.has(name) && status !== 501 && status !== 405) throw this.failure(e, 'removeTree', tree);
        this.batchDelete = false;
      }
    }
    for (let i = 0; i < keys.length; i += DELETE_CONCURRENCY) {
      await Promise.all(keys.slice(i, i + DELETE_CONCURRENCY).map((k) => this.remove(this.pathOf(k))));
    }
  }

  private async checkBucket(): Promise<void> {
    if (this.bucketSeen) return;
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
      this.bucketSeen = true;
    } catch (e) {
      if (isNotFound(e)) throw this.noBucket(e);
      throw this.failure(e, 'check bucket', '');
    }
  }

  /** The object key of a storage path, after checking the path. */
  private key(path: string): string {
    checkPath(path);
    return this.root === '' ? path : `${this.root}/${path}`;
  }

  /** The key prefix of a listing prefix (which may be '' or end in `/`). */
  private keyPrefix(prefix: string): string {
    if (this.root === '') return prefix;
    return `${this.root}/${prefix}`;
  }

  private pathOf(key: string): string {
    return this.root === '' ? key : key.slice(this.root.length + 1);
  }

  private noBucket(cause: unknown): PgpilotError {
    return new PgpilotError('Repo', `bucket "${this.bucket}" of repository ${this.location} does not exist at ${this.endpoint}`, {
      hint: 'create the bucket, or correct the bucket name, endpoint and region of the repository',
      cause,
    });
  }

  /** Maps an SDK failure to a PgpilotError naming the object, the repository and the endpoint. */
  private failure(e: unknown, op: string, path: string): Error {
    if (!(e instanceof Error)) return new Error(String(e));
    if (e instanceof PgpilotError || e instanceof AssertionFailure) return e;
    const what = path === '' ? this.location : `${this.location}/${path}`;
    const err = e as SdkError;
    const name = err.name ?? '';
    if (isNoSuchBucket(e)) return this.noBucket(e);
    if (name === 'NoSuchKey' || (isNotFound(e) && (op === 'read' || op === 'stat'))) {
      return new PgpilotError('NotFound', `${what} does not exist`, {
        hint: 'check the repository bucket and prefix; the object may have been expired or never written',
        cause: e,
      });
    }
    if (ACCESS_NAMES.has(name) || err.$metadata?.httpStatusCode === 403) {
      return new PgpilotError('Repo', `access denied to ${what} at ${this.endpoint} (${op}): ${name} ${errorMessage(e)}`, {
        hint: `check the access key and secret in the repository's credentials file, and that they may ${op} in bucket ${this.bucket}`,
        cause: e,
      });
    }
    const netCode = networkCode(e);
    if (netCode !== undefined) {
      return new PgpilotError('Repo', `cannot reach S3 endpoint ${this.endpoint} for ${what} (${op}): ${netCode}`, {
        hint: 'check the repository endpoint URL and that the S3 service is up and reachable from this host',
        cause: e,
      });
    }
    return new PgpilotError('Repo', `cannot ${op} ${what} at ${this.endpoint}: ${name} ${errorMessage(e)}`, {
      hint: 'check the repository bucket, prefix, region and endpoint, and the S3 service',
      cause: e,
    });
  }
}

function isNotFound(e: unknown): boolean {
  const err = e as SdkError;
  return err.name === 'NoSuchKey' || err.name === 'NotFound' || err.name === 'NoSuchBucket' || err.$metadata?.httpStatusCode === 404;
}

function isNoSuchBucket(e: unknown): boolean {
  return (e as SdkError).name === 'NoSuchBucket' || (e as SdkError).code === 'NoSuchBucket';
}

/** The errno-like code of a network failure anywhere in the error (its cause chain or an AggregateError's members). */
function networkCode(e: unknown, depth = 0): string | undefined {
  if (depth > 5 || typeof e !== 'object' || e === null) return undefined;
  const err = e as SdkError;
  if (err.code !== undefined && NETWORK_CODES.has(err.code)) return err.code;
  if (err.name === 'TimeoutError') return 'timeout';
  for (const inner of err.errors ?? []) {
    const code = networkCode(inner, depth + 1);
    if (code !== undefined) return code;
  }
  return networkCode(err.cause, depth + 1);
}
