// The pgpilot side of the backup benchmark: a 1-instance cluster with a zstd-1 repository and 2 jobs, started by
// `pgpilot up --detach` in a temporary PGPILOT_HOME on free ports, and its backup and restore commands, measured.
import fsp from 'node:fs/promises';
import path from 'node:path';
import { freePortRange } from '../../src/runner/ports.js';
import { pgpilotBin } from '../../src/runner/processes.js';
import type { BackupSummary } from '../../src/cli/backup-summary.js';
import { cliOk, runCli } from '../../test/support/cli.js';
import type { WriterTarget } from '../ha/writer.js';
import { findProcesses, reapByMarker } from '../ha/procs.js';
import { timedRestore, type BackupRun, type RestoreRun } from './runs.js';
import { dirBytes, ioDelta, ioOf, peakOf, watching, type ProcessMatch } from './sample.js';

export interface PgpilotSide {
  name: string;
  home: string;
  manifest: string;
  repoDir: string;
  dataDir: string;
  runDir: string;
  target: WriterTarget;
  backup(type: 'full' | 'incr'): Promise<BackupRun>;
  restore(label: string, dir: string): Promise<RestoreRun>;
  archiveStatus(): Promise<Record<string, unknown>>;
  /** The WAL archiver child of the agent (to watch its memory under load). */
  archiver: ProcessMatch;
  /** `pgpilot down NAME`: every process stopped, the data kept. */
  stop(): Promise<void>;
  /** `pgpilot down NAME --destroy --yes`, then kills whatever still mentions the home; returns what it had to kill. */
  destroy(): Promise<string[]>;
}

/**
 * Writes the manifest of a 1-instance cluster on free ports whose repository (zstd 1, 2 jobs) is `repoDir`; returns
 * its PostgreSQL port.
 */
export async function writeManifest(file: string, name: string, repoDir: string): Promise<number> {
  const pgPort = await freePortRange(1);
  const apiPort = await freePortRange(1);
  await fsp.writeFile(file, [
    'apiVersion: pgpilot.dev/v1', 'kind: PostgresCluster', `metadata: {name: ${name}}`, 'spec:', '  instances: 1',
    `  postgres: {port: ${pgPort}}`, `  api: {port: ${apiPort}}`,
    `  backup: {repos: [{name: bench, path: ${JSON.stringify(repoDir)}, compress: {type: zstd, level: 1}, retention: {full: 9}}], jobs: 2}`,
    '',
  ].join('\n'));
  return pgPort;
}

/**
 * `pgpilot down NAME --destroy --yes` of a cluster in `home`, then kills whatever still mentions `marker`; returns what
 * it had to kill (and a failed command).
 */
export async function destroyCluster(home: string, name: string, marker: string): Promise<string[]> {
  const r = await runCli(['down', name, '--destroy', '--yes'], { PGPILOT_HOME: home }, 300_000).catch((e: unknown) => ({ code: -1, stdout: '', stderr: String(e) }));
  const left = await reapByMarker(marker);
  if (r.code !== 0) left.push(`(pgpilot down --destroy exited ${r.code}: ${r.stderr.trim()})`);
  return left;
}

/** The superuser of a running cluster over TCP, with the password from its secrets. */
export async function superuser(home: string, name: string, port: number): Promise<WriterTarget> {
  const password = (await fsp.readFile(path.join(home, name, 'secrets', 'superuser.password'), 'utf8')).trim();
  return { host: '127.0.0.1', port, user: 'postgres', password, database: 'postgres' };
}

export async function startPgpilot(base: string, name = 'bbench'): Promise<PgpilotSide> {
  const home = path.join(base, 'pgpilot-home');
  const repoDir = path.join(base, 'pgpilot-repo');
  await fsp.mkdir(home, { recursive: true, mode: 0o755 });
  const env = { PGPILOT_HOME: home };
  const manifest = path.join(base, 'pgpilot.yaml');
  const pgPort = await writeManifest(manifest, name, repoDir);
  const memberDir = path.join(home, name, 'members', `${name}-0`);
  const agentConfig = path.join(memberDir, 'agent.yaml');
  const agentPid = async (): Promise<number | undefined> => (await findProcesses('agent', '--config', agentConfig))[0]?.pid;

  const side: PgpilotSide = {
    name, home, manifest, repoDir,
    dataDir: path.join(memberDir, 'data'),
    runDir: path.join(memberDir, 'run'),
    target: { host: '127.0.0.1', port: pgPort, user: 'postgres', password: '', database: 'postgres' },
    async backup(type) {
      const agent = await agentPid();
      const before = agent === undefined ? undefined : await ioOf(agent);
      const { result: { out, wallMs }, watched } = await watching({ program: 'node', parts: ['job', 'backup', '--config', agentConfig] }, async () => {
        const t0 = performance.now();
        const text = await cliOk(['backup', name, '--type', type, '--json'], env, 4 * 3600_000);
        return { out: text, wallMs: performance.now() - t0 };
      });
      const after = agent === undefined ? undefined : await ioOf(agent);
      const summary = JSON.parse(out) as BackupSummary & { durationMs: number; readSize: number };
      const job = watched.processes[0];
      return {
        label: summary.label, wallMs, dirBytes: await dirBytes(path.join(repoDir, 'backup', summary.label)),
        reported: summary as unknown as Record<string, unknown>, io: job?.lastIo, peakRssBytes: peakOf(watched), watched,
        ...(before !== undefined && after !== undefined ? { agentIo: ioDelta(after, before) } : {}),
      };
    },
    restore(label, dir) {
      return timedRestore([process.execPath, pgpilotBin, 'restore', name, '--set', label, '--to-dir', dir], env, { program: 'node', parts: [pgpilotBin, 'restore', '--to-dir', dir] }, dir);
    },
    async archiveStatus() {
      return JSON.parse(await cliOk(['archive-status', name, '--json'], env, 60_000)) as Record<string, unknown>;
    },
    archiver: { program: 'node', parts: ['wal-archiver', '--config', agentConfig] },
    async stop() {
      await cliOk(['down', name], env, 300_000);
    },
    destroy() {
      return destroyCluster(home, name, home);
    },
  };
  const up = await runCli(['up', '-f', manifest, '--detach'], env, 300_000).catch((e: unknown) => ({ code: -1, stdout: '', stderr: String(e) }));
  if (up.code !== 0) throw new Error(`pgpilot up exited ${up.code}: ${up.stderr.trim() || up.stdout.trim()}`);
  side.target = await superuser(home, name, side.target.port);
  return side;
}
