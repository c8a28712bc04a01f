// Reading pg_control of a stopped (or crashed) data directory with pg_controldata: state, timeline, LSNs, identity.
import path from 'node:path';
import { PgpilotError } from '../base/errors.js';
import { parseLsn, type Lsn } from '../model/lsn.js';
import type { RunAs } from './os-user.js';
import { runProgram } from './program.js';

/** "Database cluster state" as PostgreSQL 15's pg_controldata prints it (LC_ALL=C). */
export type ClusterState =
  | 'starting up'
  | 'shut down'
  | 'shut down in recovery'
  | 'shutting down'
  | 'in crash recovery'
  | 'in archive recovery'
  | 'in production';

export const CLUSTER_STATES: readonly ClusterState[] = [
  'starting up', 'shut down', 'shut down in recovery', 'shutting down', 'in crash recovery', 'in archive recovery',
  'in production',
];

export interface ControlData {
  state: ClusterState;
  /** Latest checkpoint's TimeLineID. A standby's may lag `minRecoveryEndTimeline`. */
  timeline: number;
  checkpointLsn: Lsn;
  redoLsn: Lsn;
  /** As text: it does not fit a double. */
  systemIdentifier: string;
  /** Minimum recovery ending location: where a standby's replay has been (0 on a primary). */
  minRecoveryEndLsn: Lsn;
  /** Its timeline; 0 on a primary. */
  minRecoveryEndTimeline: number;
  /** Data page checksum version > 0. */
  dataChecksums: boolean;
  walLogHints: boolean;
}

export interface ControlDataOptions {
  binDir: string;
  dataDir: string;
  runAs: RunAs;
}

const CONTROLDATA_TIMEOUT_MS = 30_000;

/** Runs pg_controldata on `dataDir` as the run-as user (C locale, so the labels are English) and parses it. */
export async function readControlData(options: ControlDataOptions): Promise<ControlData> {
  const { stdout } = await runProgram(path.join(options.binDir, 'pg_controldata'), ['-D', options.dataDir], {
    runAs: options.runAs,
    env: { LC_ALL: 'C' },
    timeoutMs: CONTROLDATA_TIMEOUT_MS,
  });
  return parseControlData(stdout);
}

/** The fields pgpilot uses from pg_controldata's "Label:   value" lines; a missing or odd one is a Postgres error. */
export function parseControlData(text: string): ControlData {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    // Labels contain no colon (values do: LSNs, times), so the first one ends the label.
    if (colon > 0) fields.set(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  const field = (label: string): string => {
    const value = fields.get(label);
    if (value === undefined || value === '') throw badOutput(`has no "${label}" line`);
    return value;
  };
  const integer = (label: string): number => {
    const value = field(label);
    if (!/^\d+$/.test(value)) throw badOutput(`"${label}" is not a number: "${value}"`);
    return Number(value);
  };
  const lsn = (label: string): Lsn => {
    try {
      return parseLsn(field(label));
    } catch {
      throw badOutput(`"${label}" is not an LSN: "${field(label)}"`);
    }
  };
  const onOff = (label: string): boolean => {
    const value = field(label);
    if (value !== 'on' && value !== 'off') throw badOutput(`"${label}" is neither on nor off: "${value}"`);
    return value === 'on';
  };
  const state = field('Database cluster state');
  if (!isClusterState(state)) throw badOutput(`names an unknown cluster state "${state}"`);
  const systemIdentifier = field('Database system identifier');
  if (!/^\d+$/.test(systemIdentifier)) throw badOutput(`has a malformed system identifier "${systemIdentifier}"`);
  return {
    state,
    timeline: integer("Latest checkpoint's TimeLineID"),
    checkpointLsn: lsn('Latest checkpoint location'),
    redoLsn: lsn("Latest checkpoint's REDO location"),
    systemIdentifier,
    minRecoveryEndLsn: lsn('Minimum recovery ending location'),
    minRecoveryEndTimeline: integer("Min recovery ending loc's timeline"),
    dataChecksums: integer('Data page checksum version') > 0,
    walLogHints: onOff('wal_log_hints setting'),
  };
}

/**
 * Whether the data directory last ran as a primary: shut down cleanly as one, or stopped (crashed, killed) while one
 * ran on it ('in production', 'shutting down') or while it recovered from such a crash ('in crash recovery': no
 * signal file, so it would have come up as a primary). A standby ('shut down in recovery', 'in archive recovery')
 * is not; neither is 'starting up', which PostgreSQL 15 servers never leave behind.
 */
export function wasPrimary(cd: Pick<ControlData, 'state'>): boolean {
  return cd.state === 'shut down' || cd.state === 'in production' || cd.state === 'shutting down'
    || cd.state === 'in crash recovery';
}

function isClusterState(text: string): text is ClusterState {
  return (CLUSTER_STATES as readonly string[]).includes(text);
}

function badOutput(what: string): PgpilotError {
  return new PgpilotError('Postgres', `pg_controldata output ${what}`, {
    hint: 'run pg_controldata by hand on the data directory: pg_control may be damaged, or the version is not 15',
  });
}
