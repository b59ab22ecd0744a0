import type { Bundle } from '@aurora-haproxy/contract/bundle';
import type { HaproxyRuntimeApi, RuntimeCommand } from '../haproxy/runtime-api';
import { planRuntimeCommands } from './runtime-plan';

/**
 * Put HAProxy's live slots back to the applied bundle's membership after runtime commands
 * of a failed apply ran (issue 16 #5: the live state, haproxy.cfg and the applied bundle
 * must tell one story; when the new file or the server-state file cannot be written, the
 * runtime changes are what gets undone). It is the runtime plan from `next` back to
 * `applied`, made from the live rows as they are now, so it is idempotent and undoes any
 * prefix of the forward plan; it re-addresses with the same guard (stopping / down before
 * the address changes). Slots that only `next` filled go straight to maint (no drain wait:
 * they held sessions for milliseconds). Returns the number of commands run; throws on the
 * first failing one.
 */
export async function undoRuntimeChanges(
  runtime: HaproxyRuntimeApi,
  applied: Bundle,
  next: Bundle,
  resolved: ReadonlyMap<string, string>,
  hostAz = '',
): Promise<number> {
  const live = await runtime.showServersState();
  const plan = planRuntimeCommands({
    previous: next,
    next: applied,
    live: live.rows,
    resolved,
    hostAz,
  });
  const commands: RuntimeCommand[] = [...plan.commands, ...plan.afterDrain];
  for (const command of commands) await runtime.run(command);
  return commands.length;
}
