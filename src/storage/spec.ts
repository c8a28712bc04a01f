// How a repository's storage is specified: a local directory or an S3 bucket and prefix.

/** Where a repository lives. The factory `openStorage` turns it into a `Storage`. */
export type StorageSpec =
  | { kind: 'posix'; path: string }
  | {
      kind: 's3';
      bucket: string;
      /** An S3-compatible endpoint URL (MinIO, s3rver...); AWS when absent. */
      endpoint?: string;
      region: string;
      /** A key prefix inside the bucket; '' for the bucket's root. Leading and trailing slashes are ignored. */
      prefix: string;
      accessKeyId: string;
      secretAccessKey: string;
      /** Address buckets as `endpoint/bucket` instead of `bucket.endpoint` (needed by most S3-compatible servers). */
      forcePathStyle?: boolean;
    };
