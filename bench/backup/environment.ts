// The run's environment for the backup report: the machine, and the versions of both tools and of what they use.
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { errorMessage } from '../../src/base/errors.js';
import type { Environment } from '../ha/report.js';

const run = promisify(execFile);

async function firstLine(repo: string, cmd: string, args: string[]): Promise<string> {
  try {
    const r = await run(cmd, args, { timeout: 20_000, cwd: repo });
    return (r.stdout.trim() || r.stderr.trim()).split('\n')[0] ?? '?';
  } catch (e) {
    return `unavailable (${errorMessage(e).split('\n')[0] ?? ''})`;
  }
}

export async function versions(repo: string): Promise<Record<string, string>> {
  const commit = await firstLine(repo, 'git', ['rev-parse', '--short=12', 'HEAD']);
  const status = await run('git', ['status', '--porcelain'], { cwd: repo }).then((r) => r.stdout, () => '');
  const lines = status.split('\n').filter((l) => l.trim() !== '');
  const changed = lines.filter((l) => !l.startsWith('??')).length;
  const untracked = lines.length - changed;
  const zstdNapi = await fs.readFile(path.join(repo, 'node_modules', 'zstd-napi', 'package.json'), 'utf8')
    .then((t) => (JSON.parse(t) as { version: string }).version, () => '?');
  return {
    pgpilot: `${commit}${changed + untracked > 0 ? ` with uncommitted changes (${changed} tracked, ${untracked} untracked file(s))` : ''}`,
    pgBackRest: (await firstLine(repo, 'pgbackrest', ['version'])).replace(/^pgBackRest /, ''),
    PostgreSQL: (await firstLine(repo, '/usr/lib/postgresql/15/bin/postgres', ['--version'])).replace(/^postgres \(PostgreSQL\) /, ''),
    pgbench: (await firstLine(repo, 'pgbench', ['--version'])).replace(/^pgbench \(PostgreSQL\) /, ''),
    Node: process.version,
    'zstd-napi (pgpilot)': zstdNapi,
    'libzstd1 (pgBackRest)': await firstLine(repo, 'dpkg-query', ['-W', '-f', '${Version}', 'libzstd1']),
  };
}

export function machine(): Environment['machine'] {
  return {
    cpus: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model ?? '?',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel: os.release(),
  };
}
