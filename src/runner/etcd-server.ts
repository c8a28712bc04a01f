// Starts and stops a single-member etcd server process on this host, for the local runner and the e2e tests.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import { PgpilotError, errorMessage } from '../base/errors.js';
import { waitFor } from '../base/wait.js';

export interface EtcdServerOptions {
  dataDir: string;
  clientPort: number;
  peerPort: number;
  /** Member name (default "default"). */
  name?: string;
  /** etcd's stdout and stderr are appended here. */
  logFile: string;
  /** The OS user to run etcd as when this process runs as root; ignored otherwise. */
  runAs?: string;
  /**
   * true: etcd outlives this process (own process group, not waited for); stop it later with stopEtcd(pid).
   * false (default): etcd gets SIGKILL when this process dies.
   */
  detached?: boolean;
}

export interface EtcdServer {
  pid: number;
  /** The client URL, http://127.0.0.1:<clientPort>. */
  endpoint: string;
  stop(): Promise<void>;
}

const host = '127.0.0.1';
const startTimeoutMs = 30_000;
const stopGraceMs = 5_000;

/** Spawns etcd and waits until it reports itself healthy (it has a leader and serves requests). */
export async function startEtcd(options: EtcdServerOptions): Promise<EtcdServer> {
  const endpoint = `http://${host}:${options.clientPort}`;
  const child = await spawnEtcd(options, endpoint);
  const pid = child.pid ?? 0;
  let exit: string | undefined;
  child.once('exit', (code, signal) => {
    exit = `exit code ${code ?? 'none'}, signal ${signal ?? 'none'}`;
  });
  try {
    const state = await waitFor(`etcd at ${endpoint} to answer /health`, async () => exit ?? (await healthy(endpoint)), {
      timeoutMs: startTimeoutMs,
      intervalMs: 100,
      hint: `see the etcd log ${options.logFile}`,
    });
    if (exit !== undefined) {
      throw new PgpilotError('Program', `etcd (pid ${pid}) exited while starting: ${state}`, {
        hint: `see the etcd log ${options.logFile}: is port ${options.clientPort} or ${options.peerPort} taken${
          options.runAs === undefined ? '' : `, or can user ${options.runAs} not reach ${options.dataDir}`
        }?`,
      });
    }
  } catch (e) {
    await stopEtcd(pid);
    throw e;
  }
  return { pid, endpoint, stop: () => stopEtcd(pid) };
}

/** Stops an etcd by pid (it need not be a child of this process): SIGTERM, then SIGKILL after 5 s; waits for exit. */
export async function stopEtcd(pid: number): Promise<void> {
  if (!signal(pid, 'SIGTERM') || (await exits(pid, stopGraceMs))) return;
  signal(pid, 'SIGKILL');
  if (!(await exits(pid, stopGraceMs))) {
    throw new PgpilotError('Os', `etcd (pid ${pid}) did not exit after SIGKILL`, {
      hint: `look at the process with: ps -o pid,stat,cmd -p ${pid}`,
    });
  }
}

async function spawnEtcd(options: EtcdServerOptions, endpoint: string): Promise<ChildProcess> {
  const name = options.name ?? 'default';
  const peer = `http://${host}:${options.peerPort}`;
  const user: { uid?: number; gid?: number } =
    options.runAs !== undefined && process.getuid?.() === 0 ? osUser(options.runAs) : {};
  fs.mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  if (user.uid !== undefined && user.gid !== undefined) fs.chownSync(options.dataDir, user.uid, user.gid);
  const etcdArgs = [
    ...['--name', name, '--data-dir', options.dataDir],
    ...['--listen-client-urls', endpoint, '--advertise-client-urls', endpoint],
    ...['--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer, '--initial-cluster', `${name}=${peer}`],
  ];
  const detached = options.detached ?? false;
  // setpriv --pdeathsig: the kernel kills etcd when this process dies, even by SIGKILL.
  const [command, args] = detached ? ['etcd', etcdArgs] : ['setpriv', ['--pdeathsig', 'KILL', 'etcd', ...etcdArgs]];
  const log = fs.openSync(options.logFile, 'a');
  try {
    const child = spawn(command, args, { detached, stdio: ['ignore', log, log], ...user });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (e) =>
        reject(new PgpilotError('Program', `cannot run ${command}: ${e.message}`, {
          hint: 'install etcd 3.4 (Debian: apt-get install etcd-server) and util-linux, and put them on PATH',
          cause: e,
        })),
      );
    });
    if (detached) child.unref();
    return child;
  } finally {
    fs.closeSync(log);
  }
}

/** The uid and gid of an OS user, from /etc/passwd. */
function osUser(name: string): { uid: number; gid: number } {
  const line = fs.readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(`${name}:`));
  const [, , uid, gid] = line?.split(':') ?? [];
  if (uid === undefined || gid === undefined) {
    throw new PgpilotError('Os', `no OS user "${name}" to run etcd as`, { hint: `create it: useradd --system ${name}` });
  }
  return { uid: Number(uid), gid: Number(gid) };
}

/** 'ready' when etcd answers GET /health with {"health":"true"}; false otherwise. */
function healthy(endpoint: string): Promise<'ready' | false> {
  return new Promise((resolve) => {
    const request = http.get(`${endpoint}/health`, { agent: false, timeout: 1000 }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve(response.statusCode === 200 && /"health":\s*"true"/.test(body) && 'ready'));
      response.on('error', () => resolve(false));
    });
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(false));
  });
}

/** Sends a signal; false when the process is gone already. */
function signal(pid: number, name: NodeJS.Signals): boolean {
  try {
    process.kill(pid, name);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw new PgpilotError('Os', `cannot send ${name} to etcd (pid ${pid}): ${errorMessage(e)}`, {
      hint: 'stop it as the user that started it',
      cause: e,
    });
  }
}

/** Whether the process is gone (or a zombie) within `timeoutMs`. */
async function exits(pid: number, timeoutMs: number): Promise<boolean> {
  return waitFor(`etcd (pid ${pid}) to exit`, () => !running(pid), { timeoutMs, intervalMs: 50 }).then(
    () => true,
    () => false,
  );
}

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // The state follows the command name in parentheses: "Z" is a zombie, dead but not yet reaped.
    return fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(')').pop()?.trim().startsWith('Z') !== true;
  } catch {
    return false;
  }
}
