/**
 * The daemon's log: one JSON object per line on stderr (journald keeps it). Callers pass
 * only non-secret fields; credentials are never handed to the logger.
 */
export interface HealthLogger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export function jsonLogger(
  write: (line: string) => void = (l) => process.stderr.write(l),
): HealthLogger {
  const emit = (level: string, message: string, fields?: Record<string, unknown>) =>
    write(`${JSON.stringify({ time: new Date().toISOString(), level, message, ...fields })}\n`);
  return {
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
  };
}

export const silentLogger: HealthLogger = { info() {}, warn() {}, error() {} };
