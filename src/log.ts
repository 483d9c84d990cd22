// The library is silent (DESIGN §2): it reports through a Logger the caller passes in.
// The CLI decides where lines go; tests collect them.

export type Level = 'debug' | 'info' | 'warn' | 'error';

export interface LogRecord {
  level: Level;
  msg: string;
  fields?: Record<string, unknown>;
}

export interface Logger {
  log(record: LogRecord): void;
}

export const silent: Logger = { log() {} };

export function info(logger: Logger, msg: string, fields?: Record<string, unknown>): void {
  logger.log({ level: 'info', msg, ...(fields ? { fields } : {}) });
}

export function debug(logger: Logger, msg: string, fields?: Record<string, unknown>): void {
  logger.log({ level: 'debug', msg, ...(fields ? { fields } : {}) });
}

export function warn(logger: Logger, msg: string, fields?: Record<string, unknown>): void {
  logger.log({ level: 'warn', msg, ...(fields ? { fields } : {}) });
}

/** A logger that keeps records in memory, for tests and for `--log` buffering. */
export function memoryLogger(): Logger & { records: LogRecord[] } {
  const records: LogRecord[] = [];
  return { records, log: (r) => void records.push(r) };
}
