// Structured, injected logging: JSON lines by default, child loggers carry fields such as cluster and member.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Writes one JSON object per line to a sink (stdout by default); never throws, never blocks on I/O completion. */
export function jsonLogger(
  options: { level?: LogLevel; fields?: LogFields; write?: (line: string) => void; now?: () => Date } = {},
): Logger {
  const level = options.level ?? 'info';
  const base = options.fields ?? {};
  const write = options.write ?? ((line: string) => void process.stdout.write(line));
  const now = options.now ?? (() => new Date());
  const emit = (lvl: LogLevel, msg: string, fields?: LogFields): void => {
    if (rank[lvl] < rank[level]) return;
    let line: string;
    try {
      line = JSON.stringify({ time: now().toISOString(), level: lvl, msg, ...base, ...fields });
    } catch {
      line = JSON.stringify({ time: now().toISOString(), level: lvl, msg, ...base, fields: '[unserializable]' });
    }
    write(line + '\n');
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => jsonLogger({ level, fields: { ...base, ...fields }, write, now }),
  };
}

/** A logger that drops everything; for tests that do not look at logs. */
export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => silentLogger,
};
