// The storage factory: the only place that knows the concrete drivers; callers get a `Storage` from a `StorageSpec`.
import { PosixStorage } from './posix/posix-storage.js';
import type { StorageSpec } from './spec.js';
import type { Storage } from './storage.js';

/**
 * Opens a driver. The S3 driver is loaded only when an S3 repository is used: the AWS SDK costs about 25 MB of memory,
 * which agents and archivers of clusters without S3 should not pay.
 */
export async function openStorage(spec: StorageSpec): Promise<Storage> {
  switch (spec.kind) {
    case 'posix':
      return new PosixStorage(spec.path);
    case 's3': {
      const { S3Storage } = await import('./s3/s3-storage.js');
      return new S3Storage(spec);
    }
  }
}
