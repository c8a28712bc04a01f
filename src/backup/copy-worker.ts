// Worker thread of a backup: opens the repository's storage and copies the files it is handed, a batch at a time.
import { mapConcurrently } from '../base/concurrency.js';
import { parseLsn } from '../model/lsn.js';
import { openStorage } from '../storage/open-storage.js';
import type { StorageSpec } from '../storage/spec.js';
import { BundleWriter } from './bundle.js';
import type { CodecOptions } from './codec/codec.js';
import type { CopyResult, CopyTask } from './copy-io.js';
import { copyFile } from './file-copy.js';
import { serveWorker } from './worker-pool.js';

export interface CopyWorkerData {
  worker: number;
  storageSpec: StorageSpec;
  codec: CodecOptions;
  ext: string;
  dir: string;
  refStartLsn: string | undefined;
  refStartMs: number | undefined;
  backupStartLsn: string;
  checksums: boolean;
}

/** Small files of a batch copied at once (their reads, hashes and bundle appends interleave; bundle offsets are
 * taken synchronously, so they stay right). */
const SMALL_FILES_AT_ONCE = 4;

serveWorker<CopyWorkerData, CopyTask[], (CopyResult | undefined)[]>(async (data) => {
  const storage = await openStorage(data.storageSpec);
  const key = data.codec.key === undefined ? undefined : Buffer.from(data.codec.key);
  const bundle = new BundleWriter(storage, data.dir, data.worker);
  const env = {
    storage,
    codec: { compress: data.codec.compress, key },
    ext: data.ext,
    dir: data.dir,
    refStartLsn: data.refStartLsn === undefined ? undefined : parseLsn(data.refStartLsn),
    refStartMs: data.refStartMs,
    backupStartLsn: parseLsn(data.backupStartLsn),
    checksums: data.checksums,
    bundle,
  };
  return {
    // A batch holds small files: a few at once, so the worker computes while the file system answers the others.
    handle: (batch: CopyTask[]) => mapConcurrently(batch, SMALL_FILES_AT_ONCE, (task) => copyFile(task, env)),
    finish: async () => {
      await bundle.flush();
      return bundle.storedSize;
    },
  };
});
