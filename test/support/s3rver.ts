// A real s3rver (fake S3) child process on a free port with one bucket, for e2e tests of the s3 storage driver.
import { spawn } from 'node:child_process';
import fsp from 'node:fs/promises';
import http from 'node:http';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { waitFor } from '../../src/base/wait.js';
import { freePort } from '../../src/runner/ports.js';

export interface S3rver {
  endpoint: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  /** Kills the server and removes its data directory; safe to call twice. */
  stop(): Promise<void>;
}

const s3rverBin = path.join(path.dirname(createRequire(import.meta.url).resolve('s3rver/package.json')), 'bin', 's3rver.js');

/** Whether an HTTP server answers at host:port (any status counts). */
function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', timeout: 1000 }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

/** Starts s3rver in a temp directory and creates `bucket` in it. */
export async function startS3rver(bucket = 'pgpilot-test'): Promise<S3rver> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'pgpilot-s3rver-'));
  const port = await freePort();
  // setpriv --pdeathsig: the kernel kills s3rver when the test process dies, even by SIGKILL.
  // --openssl-legacy-provider: s3rver encrypts ListObjectsV2 continuation tokens with DES, legacy in OpenSSL 3.
  const args = ['--pdeathsig', 'KILL', '--', process.execPath, '--openssl-legacy-provider', s3rverBin, '--directory', dir, '--port', String(port), '--address', '127.0.0.1', '--silent'];
  const child = spawn('setpriv', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (s: string) => {
    stderr = (stderr + s).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', (e) => {
      stderr += `\n${e.message}`;
      resolve();
    });
  });
  let gone = false;
  void exited.then(() => {
    gone = true;
  });

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (!gone) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(killer);
    }
    await fsp.rm(dir, { recursive: true, force: true });
  };

  const server = {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    region: 'us-east-1',
    stop,
  };
  try {
    // Wait until it answers HTTP, or fail at once if it exited.
    const state = await waitFor('s3rver to answer', async () => (gone ? 'exited' : (await answers(port)) ? 'up' : undefined), {
      timeoutMs: 20_000,
      intervalMs: 100,
      hint: `s3rver is ${s3rverBin}`,
    });
    if (state === 'exited') throw new Error(`s3rver exited at start (exit code ${child.exitCode}): ${stderr}`);
    process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
    const client = new S3Client({
      endpoint: server.endpoint,
      region: server.region,
      forcePathStyle: true,
      credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    });
    try {
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
    } finally {
      client.destroy();
    }
    return server;
  } catch (e) {
    await stop();
    throw e;
  }
}
