import { errorMessage } from '@aurora-haproxy/contract/error-message';
import type { LocalHaproxy } from '../../../packages/local-stack/haproxy';
import { waitFor } from '../../../packages/local-stack/process/wait';

/**
 * Server status as HAProxy's `show stat` reports it (UP, DOWN, MAINT, "UP 1/2", …), keyed
 * `<backend>/<server>`, read over the stats socket.
 */
export async function serverStatuses(haproxy: LocalHaproxy): Promise<Map<string, string>> {
  const text = await haproxy.runtime.command('show stat');
  const lines = text.split('\n');
  const header = (lines[0] ?? '').replace(/^# /, '').split(',');
  const px = header.indexOf('pxname');
  const sv = header.indexOf('svname');
  const st = header.indexOf('status');
  const out = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const f = line.split(',');
    if (f.length < header.length - 1) continue;
    const server = f[sv] ?? '';
    if (server === 'FRONTEND' || server === 'BACKEND') continue;
    out.set(`${f[px]}/${server}`, f[st] ?? '');
  }
  return out;
}

/** Wait until every listed server has a status accepted by `ok`. */
export async function waitForStatuses(
  haproxy: LocalHaproxy,
  expected: ReadonlyMap<string, (status: string) => boolean>,
  timeoutMs = 20_000,
): Promise<void> {
  let last = new Map<string, string>();
  try {
    await waitFor(
      'HAProxy server states',
      async () => {
        last = await serverStatuses(haproxy);
        return [...expected].every(([key, ok]) => ok(last.get(key) ?? 'missing'));
      },
      { timeoutMs, intervalMs: 100 },
    );
  } catch (error) {
    throw new Error(
      `${errorMessage(error)}; expected ${[...expected.keys()].join(' ')}, saw ${JSON.stringify(Object.fromEntries(last))}`,
    );
  }
}

export const isUp = (s: string) => s === 'UP';
export const isDown = (s: string) => s.startsWith('DOWN');
