// The storage contract against the posix driver (a temp dir) and the s3 driver (a real s3rver), plus S3 failure messages.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PgpilotError } from '../../src/base/errors.js';
import { freePort } from '../../src/runner/ports.js';
import { openStorage } from '../../src/storage/open-storage.js';
import type { StorageSpec } from '../../src/storage/spec.js';
import type { Storage } from '../../src/storage/storage.js';
import { type S3rver, startS3rver } from '../support/s3rver.js';
import { storageContract } from '../support/storage-contract.js';

let s3: S3rver | undefined;
before(async () => {
  s3 = await startS3rver();
});
after(async () => {
  await s3?.stop();
});

function s3Spec(over: Partial<Extract<StorageSpec, { kind: 's3' }>> = {}): StorageSpec {
  assert.ok(s3 !== undefined, 's3rver is not running');
  return {
    kind: 's3',
    bucket: s3.bucket,
    endpoint: s3.endpoint,
    region: s3.region,
    prefix: `repo-${randomBytes(4).toString('hex')}`,
    accessKeyId: s3.accessKeyId,
    secretAccessKey: s3.secretAccessKey,
    forcePathStyle: true,
    ...over,
  };
}

storageContract('posix', async () => {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'pgpilot-storage-'));
  return { storage: await openStorage({ kind: 'posix', path: dir }), cleanup: () => fsp.rm(dir, { recursive: true, force: true }) };
});

// Each test gets its own prefix in the shared bucket; slashes around it must not matter.
storageContract('s3', async () => ({ storage: await openStorage(s3Spec()), cleanup: () => Promise.resolve() }));

function isRepoError(...mentions: string[]): (e: unknown) => boolean {
  return (e) => {
    assert.ok(e instanceof PgpilotError, `expected a PgpilotError, got ${String(e)}`);
    assert.equal(e.code, 'Repo', e.message);
    for (const m of mentions) assert.ok(e.message.includes(m), `"${e.message}" should name ${m}`);
    assert.ok(e.hint !== undefined && e.hint !== '', 'a hint');
    return true;
  };
}

describe('s3 storage', () => {
  test('location, capabilities, and a prefix with stray slashes or none', async () => {
    const spec = s3Spec({ prefix: '/nested/repo/' });
    const storage = await openStorage(spec);
    assert.equal(storage.kind, 's3');
    assert.equal(storage.location, `s3://${s3?.bucket}/nested/repo`);
    assert.equal(storage.capabilities.atomicRename, false);
    await storage.write('x/y', Buffer.from('xy'));
    assert.deepEqual(await storage.list(''), [{ path: 'x/y', size: 2 }]);
    const parent = await openStorage(s3Spec({ prefix: 'nested' }));
    assert.deepEqual(await parent.list(''), [{ path: 'repo/x/y', size: 2 }]);
    const bucketRoot: Storage = await openStorage(s3Spec({ prefix: '' }));
    assert.equal(bucketRoot.location, `s3://${s3?.bucket}`);
    assert.deepEqual(await bucketRoot.readBuffer('nested/repo/x/y'), Buffer.from('xy'));
    await parent.removeTree('repo/');
    assert.deepEqual(await storage.list(''), []);
  });

  test('a missing bucket is a Repo error naming the bucket, for every operation', async () => {
    const storage = await openStorage(s3Spec({ bucket: 'no-such-bucket', prefix: 'p' }));
    const named = isRepoError('no-such-bucket', 's3://no-such-bucket/p');
    await assert.rejects(storage.list(''), named);
    await assert.rejects(storage.stat('a'), named);
    await assert.rejects(storage.readBuffer('a'), named);
    await assert.rejects(storage.read('a'), named);
    await assert.rejects(storage.write('a', Buffer.from('a')), named);
  });

  test('an unknown access key is a Repo error', async () => {
    // s3rver does not check V4 signatures, so a wrong secret would pass; an unknown key id does not.
    const storage = await openStorage(s3Spec({ accessKeyId: 'NOT-A-KEY' }));
    await assert.rejects(storage.list(''), isRepoError(storage.location, 'access denied'));
    await assert.rejects(storage.stat('a'), isRepoError(storage.location, 'access denied'));
  });

  test('a dead endpoint is a Repo error naming the endpoint', async () => {
    const endpoint = `http://127.0.0.1:${await freePort()}`;
    const storage = await openStorage(s3Spec({ endpoint, prefix: 'p' }));
    await assert.rejects(storage.list(''), isRepoError(endpoint, 's3://'));
    await assert.rejects(storage.write('a', Buffer.from('a')), isRepoError(endpoint));
  });
});
