/**
 * The one structured log interface of the orchestrator and the agent. Functions get the
 * Powertools logger through it (functions/shared/observability.ts); the agent's daemons write
 * JSON lines (journald keeps them). Callers pass only non-secret fields: credentials are never
 * handed to a log.
 */
export interface Log {
  debug(message: string, attributes?: Record<string, unknown>): void;
  info(message: string, attributes?: Record<string, unknown>): void;
  warn(message: string, attributes?: Record<string, unknown>): void;
  error(message: string, attributes?: Record<string, unknown>): void;
}

/** A log that drops everything (tests that assert on results, not on logs). */
export const silentLog: Log = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
};

/** One JSON object per line: {time, level, message, ...attributes}; stderr by default. */
export function jsonLinesLog(write: (line: string) => void = (l) => process.stderr.write(l)): Log {
  const emit = (level: string, message: string, attributes?: Record<string, unknown>) =>
    write(`${JSON.stringify({ time: new Date().toISOString(), level, message, ...attributes })}\n`);
  return {
    debug: (m, a) => emit('debug', m, a),
    info: (m, a) => emit('info', m, a),
    warn: (m, a) => emit('warn', m, a),
    error: (m, a) => emit('error', m, a),
  };
}
