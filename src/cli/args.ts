// Command-line parsing: positionals, --flags (string or boolean), and arguments after `--`.
import { PgpilotError } from '../base/errors.js';

export type FlagKind = 'string' | 'boolean';

export interface CommandSpec {
  name: string;
  usage: string;
  summary: string;
  positionals: string[];
  /** Positionals that may be left out (the last ones). */
  optionalPositionals?: number;
  flags: Record<string, { kind: FlagKind; short?: string; help: string }>;
  /** Whether arguments after `--` are accepted. */
  passthrough?: boolean;
}

export interface ParsedArgs {
  positionals: string[];
  flags: Record<string, string | boolean>;
  rest: string[];
}

function findFlag(spec: CommandSpec, token: string): [string, FlagKind] | undefined {
  const name = token.startsWith('--') ? token.slice(2) : Object.entries(spec.flags).find(([, f]) => `-${f.short}` === token)?.[0];
  const flag = name === undefined ? undefined : spec.flags[name];
  return name === undefined || flag === undefined ? undefined : [name, flag.kind];
}

export function parseArgs(spec: CommandSpec, argv: string[]): ParsedArgs {
  const out: ParsedArgs = { positionals: [], flags: {}, rest: [] };
  const usage = (msg: string): PgpilotError =>
    new PgpilotError('Usage', `pgpilot ${spec.name}: ${msg}`, { hint: `usage: ${spec.usage} (see pgpilot ${spec.name} --help)` });
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i] ?? '';
    if (token === '--') {
      if (spec.passthrough !== true) throw usage('does not take arguments after --');
      out.rest = argv.slice(i + 1);
      break;
    }
    if (token.startsWith('-') && token !== '-') {
      const [raw, inline] = token.includes('=') ? [token.slice(0, token.indexOf('=')), token.slice(token.indexOf('=') + 1)] : [token, undefined];
      const found = findFlag(spec, raw);
      if (found === undefined) throw usage(`unknown option ${raw}`);
      const [name, kind] = found;
      if (kind === 'boolean') {
        out.flags[name] = true;
        continue;
      }
      const value = inline ?? argv[++i];
      if (value === undefined) throw usage(`option --${name} needs a value`);
      out.flags[name] = value;
      continue;
    }
    out.positionals.push(token);
  }
  const required = spec.positionals.length - (spec.optionalPositionals ?? 0);
  if (out.positionals.length < required) throw usage(`missing ${spec.positionals.slice(out.positionals.length).join(' ')}`);
  if (out.positionals.length > spec.positionals.length) throw usage(`unexpected argument "${out.positionals[spec.positionals.length]}"`);
  return out;
}

export function stringFlag(args: ParsedArgs, name: string): string | undefined {
  const v = args.flags[name];
  return typeof v === 'string' ? v : undefined;
}

export function boolFlag(args: ParsedArgs, name: string): boolean {
  return args.flags[name] === true;
}

export function helpText(spec: CommandSpec): string {
  const flags = Object.entries(spec.flags).map(
    ([name, f]) => `  ${f.short === undefined ? '' : `-${f.short}, `}--${name}${f.kind === 'string' ? ' VALUE' : ''}\n      ${f.help}`,
  );
  return [`usage: ${spec.usage}`, '', spec.summary, ...(flags.length > 0 ? ['', 'options:', ...flags] : [])].join('\n');
}
