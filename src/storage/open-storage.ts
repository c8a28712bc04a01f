// The storage factory: the only place that knows the concrete drivers; callers get a `Storage` from a `StorageSpec`.
import { PosixStorage } from './posix/posix-storage.js';
import { S3Storage } from './s3/s3-storage.js';
import type { StorageSpec } from './spec.js';
import type { Storage } from './storage.js';

export function openStorage(spec: StorageSpec): Storage {
  switch (spec.kind) {
    case 'posix':
      return new PosixStorage(spec.path);
    case 's3':
      return new S3Storage(spec);
  }
}
