// CLI commands that run a local cluster: up, down, apply, and the internal supervise and agent daemons.
import type { Logger } from '../base/log.js';
import { PgpilotError } from '../base/errors.js';
import { runAgent } from '../agent/agent.js';
import { apply } from '../runner/apply.js';
import { down } from '../runner/down.js';
import { runSupervisor } from '../runner/supervisor.js';
import { up } from '../runner/up.js';
import { boolFlag, stringFlag, type ParsedArgs } from './args.js';
import { connectionInfo } from './connection-info.js';
import { renderStatus } from './cmd-inspect.js';
import type { Io } from './io.js';

export async function cmdUp(args: ParsedArgs, io: Io): Promise<number> {
  const file = stringFlag(args, 'file');
  if (file === undefined) throw new PgpilotError('Usage', 'pgpilot up: -f FILE is required', { hint: 'e.g. pgpilot up -f examples/ha.yaml' });
  const result = await up(file, io.home);
  const name = result.manifest.metadata.name;
  io.out(result.alreadyRunning ? `cluster ${name} is already running: nothing changed (use \`pgpilot apply -f ${file}\` to change it)` : `cluster ${name} is up`);
  io.out(renderStatus(result.status));
  const conn = await connectionInfo(name, io.home);
  io.out(`\nconnect:  psql '${conn.uri.replace(/:[^:@/]*@/, ':****@')}'   (password: pgpilot connection ${name} --json)`);
  io.out(`status:   pgpilot status ${name}\nstop:     pgpilot down ${name}`);
  if (boolFlag(args, 'detach') || result.alreadyRunning) return 0;
  io.out('\nrunning in the foreground: press Ctrl-C to stop the cluster (use --detach to leave it running)');
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  io.out(`stopping cluster ${name}...`);
  await down(name, io.home, { destroy: false });
  io.out(`cluster ${name} stopped`);
  return 0;
}

export async function cmdDown(args: ParsedArgs, io: Io): Promise<number> {
  const name = args.positionals[0] ?? '';
  const destroy = boolFlag(args, 'destroy');
  if (destroy && !boolFlag(args, 'yes')) {
    if (!(await io.confirm(`delete cluster ${name} and ALL its data under ${io.home}/${name}? type the cluster name to confirm: `, name))) {
      throw new PgpilotError('NotConfirmed', `not destroying ${name}: not confirmed`, { hint: 'pass --yes to confirm without a prompt' });
    }
  }
  const { forced } = await down(name, io.home, { destroy });
  if (forced.length > 0) io.err(`warning: had to kill ${forced.join(', ')}`);
  io.out(destroy ? `cluster ${name} stopped and its data deleted` : `cluster ${name} stopped (data kept; \`pgpilot up\` starts it again)`);
  return 0;
}

export async function cmdApply(args: ParsedArgs, io: Io): Promise<number> {
  const file = stringFlag(args, 'file');
  if (file === undefined) throw new PgpilotError('Usage', 'pgpilot apply: -f FILE is required', { hint: 'e.g. pgpilot apply -f examples/ha.yaml' });
  const result = await apply(file, io.home);
  for (const line of result.changes) io.out(line);
  if (result.changes.length === 0) io.out('no changes');
  io.out(renderStatus(result.status));
  return 0;
}

export async function cmdSupervise(args: ParsedArgs, io: Io, logger: Logger): Promise<number> {
  await runSupervisor(args.positionals[0] ?? '', io.home, logger.child({ cluster: args.positionals[0], component: 'supervisor' }));
  return 0;
}

export async function cmdAgent(args: ParsedArgs, _io: Io, logger: Logger): Promise<number> {
  const file = stringFlag(args, 'config');
  if (file === undefined) throw new PgpilotError('Usage', 'pgpilot agent: --config FILE is required');
  await runAgent(file, logger);
  return 0;
}
