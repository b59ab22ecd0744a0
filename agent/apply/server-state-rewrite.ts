import type { Bundle } from '@aurora-haproxy/contract/bundle';
import { IPV4 } from '@aurora-haproxy/contract/patterns';
import {
  ADMIN,
  OP_STATE,
  rowFqdn,
  rowFromFields,
  type ServerStateRow,
  type ServersStateDump,
  STATE_FIELD,
} from '../haproxy/servers-state';
import { addressOf, listenersByBackend } from './runtime-plan';

/**
 * The server-state file HAProxy loads at a reload (`load-server-state-from-file global`), made
 * from the live `show servers state` dump so the new worker keeps what checks learned instead
 * of treating every server as UP until its first check (measured here: without it, 17 of 100
 * reads reached the writer after a reload).
 *
 * HAProxy 2.6 applies a row's srv_port unconditionally and its admin state by its own rules,
 * so a raw dump would put the OLD port and maintenance flags on slots the new config changes.
 * Pure rewrite, per row:
 * - backend or slot absent from the next bundle, or a DNS name
 *   the agent could not resolve that the live row does not
 *   already follow at the same port                          -> row dropped (config defaults)
 * - slot empty in next                                        -> admin "disabled + forced maint"
 * - same server in previous and next, live at its addr:port  -> health kept, admin cleared
 * - any other filled slot (new or re-addressed)               -> port/weight from next, and
 *   operational state DOWN with health 0: the new worker sends it no reads until a check
 *   passes (never a read to a server nobody has checked)
 */
export interface ServerStateRewriteInput {
  dump: ServersStateDump;
  previous: Bundle | undefined;
  next: Bundle;
  resolved: ReadonlyMap<string, string>;
}

export function rewriteServerState(input: ServerStateRewriteInput): ServersStateDump {
  const rows: ServerStateRow[] = [];
  // By backend: one search per row over a fleet's listeners is quadratic.
  const nextListeners = listenersByBackend(input.next);
  const previousListeners = listenersByBackend(input.previous);
  for (const row of input.dump.rows) {
    const listener = nextListeners.get(row.backend);
    if (listener === undefined || !listener.slotNames.includes(row.server)) continue;
    const next = listener.servers.find((s) => s.name === row.server);
    const fields = [...row.fields];
    const set = (index: number, value: string | number) => {
      fields[index] = String(value);
    };
    if (next === undefined) {
      set(STATE_FIELD.adminState, ADMIN.configMaint | ADMIN.forcedMaint);
      rows.push(rowFromFields(fields));
      continue;
    }
    const previous = previousListeners
      .get(listener.backend)
      ?.servers.find((s) => s.name === row.server);
    let ip: string;
    try {
      ip = addressOf(next, input.resolved);
    } catch {
      // A DNS name the agent could not resolve just now. When the live worker already follows
      // that very name at the same port, its address is HAProxy's own answer: keep it, or the
      // new worker starts the slot in resolution maintenance (no server) until it resolves.
      if (rowFqdn(row) !== next.address || row.port !== next.port || !IPV4.test(row.address)) {
        continue; // HAProxy resolves it itself from the config
      }
      ip = row.address;
    }
    const kept =
      previous !== undefined &&
      previous.instanceId === next.instanceId &&
      previous.address === next.address &&
      previous.port === next.port &&
      row.address === ip &&
      row.port === next.port;
    set(STATE_FIELD.adminState, 0);
    if (!kept) {
      set(STATE_FIELD.srvAddr, ip);
      set(STATE_FIELD.srvPort, next.port);
      set(STATE_FIELD.opState, OP_STATE.stopped);
      set(STATE_FIELD.checkHealth, 0);
      set(STATE_FIELD.uweight, next.weight);
      set(STATE_FIELD.iweight, next.weight);
      set(STATE_FIELD.timeSinceLastChange, 0);
    }
    rows.push(rowFromFields(fields));
  }
  return { version: input.dump.version, header: input.dump.header, rows };
}
