/** Structured log lines: a fixed message and fields. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** Writes warnings and errors to stderr as one JSON object per line; drops debug and info. */
export const defaultLogger: Logger = {
  debug() {},
  info() {},
  warn: (message, fields) => write('warn', message, fields),
  error: (message, fields) => write('error', message, fields),
};

/** Drops everything. */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

function write(level: string, message: string, fields: Record<string, unknown> = {}): void {
  let line: string;
  try {
    line = JSON.stringify({ level, source: 'pachyderm', message, ...fields }, errorFields);
  } catch {
    line = JSON.stringify({ level, source: 'pachyderm', message });
  }
  process.stderr.write(`${line}\n`);
}

function errorFields(_key: string, value: unknown): unknown {
  if (value instanceof Error) {
    return { name: value.name, message: value.message, code: (value as { code?: unknown }).code };
  }
  return typeof value === 'bigint' ? value.toString() : value;
}
