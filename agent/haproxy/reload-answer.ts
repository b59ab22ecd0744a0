import { parseAlerts } from './alerts';

/**
 * What the master CLI answers to `reload`.
 * - HAProxy 3.0+: the connection is held until the new worker is up (or failed), then
 *   `Success=1` or `Success=0`, a `--` line, and the startup log of the new process.
 * - HAProxy 2.6: nothing (the master re-executes and closes the connection).
 * Pass conditions of parseReloadAnswer:
 * 1. a line `Success=1`  -> { kind: 'success', log }
 * 2. a line `Success=0`  -> { kind: 'failure', log, reason }: reason = the startup log's
 *    [ALERT] lines (as alerts.ts shortens them), else its last three non-empty lines, else
 *    "no startup log"
 * 3. anything else (empty included) -> { kind: 'none' }: the answer says nothing; the caller
 *    confirms with `show proc`
 */
export type ReloadAnswer =
  | { kind: 'success'; log: string }
  | { kind: 'failure'; log: string; reason: string }
  | { kind: 'none' };

export function parseReloadAnswer(text: string): ReloadAnswer {
  const match = /^Success=([01])[ \t]*$/m.exec(text);
  if (!match) return { kind: 'none' };
  const log = text
    .slice(match.index + match[0].length)
    .replace(/^\s*\n--[ \t]*\n/, '\n')
    .trim();
  if (match[1] === '1') return { kind: 'success', log };
  return { kind: 'failure', log, reason: startupFailureReason(log) };
}

/** HAProxy's own words for a failed start: its [ALERT] lines, else the log's tail. */
export function startupFailureReason(log: string): string {
  const alerts = parseAlerts(log);
  if (alerts.length > 0) return alerts.join('; ');
  const tail = log
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .slice(-3);
  return tail.length > 0 ? tail.join(' | ') : 'no startup log';
}
