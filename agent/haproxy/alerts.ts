/**
 * Turn `haproxy -c` output into a readable error: keep the [ALERT] lines, drop the pid and
 * "config :" prefixes and the generic summary lines, name the file by its base name.
 *   [ALERT]    (12238) : config : parsing [/etc/haproxy/.haproxy.cfg.tmp-1-x:13] : unknown keyword 'foo'
 * becomes
 *   parsing [line 13] : unknown keyword 'foo'
 */
const SUMMARY = [
  /^Error\(s\) found in configuration file/i,
  /^Fatal errors found in configuration/i,
];

export function parseAlerts(output: string): string[] {
  const alerts: string[] = [];
  for (const line of output.split('\n')) {
    const match = /^\[ALERT\]\s*(?:\(\d+\)\s*)?:\s*(.*)$/.exec(line.trim());
    if (!match) continue;
    const text = (match[1] ?? '')
      .replace(/^config\s*:\s*/, '')
      // [file:line] -> [line N]; an [address:port] (digits and dots) stays as it is.
      .replace(/\[([^\]\s:]+):(\d+)\]/g, (whole, file: string, line: string) =>
        /^[\d.]+$/.test(file) ? whole : `[line ${line}]`,
      )
      .trim();
    if (text === '' || SUMMARY.some((pattern) => pattern.test(text))) continue;
    alerts.push(text);
  }
  return alerts;
}

/** One line for the agent result: the alerts, or the tail of the output when there are none. */
export function describeConfigCheckFailure(output: string, exitCode: number | null): string {
  const alerts = parseAlerts(output);
  if (alerts.length > 0) return `haproxy -c rejected the config: ${alerts.join('; ')}`;
  const tail = output.trim().split('\n').slice(-3).join(' | ');
  return `haproxy -c failed (exit ${exitCode ?? 'signal'})${tail ? `: ${tail}` : ''}`;
}
