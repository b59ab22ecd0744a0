import type { Bundle } from '@aurora-haproxy/contract/bundle';
import { slotKey } from '@aurora-haproxy/contract/names';
import { candidatesOf } from '../state/pending-slots';
import type { CheckMode } from './runtime-push';
import type { SlotRole, VerdictOptions } from './verdict';

/**
 * The applied bundle seen from the health daemon: which server sits in which slot
 * (`<backend>/<slot>`, the key both the tcp-check line and postgresqlchk use), and the set of
 * distinct servers to probe (one connection per address:port, however many slots name it).
 * Slots are resolved per request from the current index, because apply re-addresses slots
 * at runtime and rewrites the applied bundle when it does.
 */
export interface SlotTarget {
  backend: string;
  slot: string;
  clusterId: string;
  instanceId: string;
  address: string;
  port: number;
  role: SlotRole;
  /** Writer endpoint slots (role member): RDS names this server the writer. */
  rdsWriter?: boolean;
  checkMode: CheckMode;
  options: VerdictOptions;
  /** `address:port`: the probe that answers for this slot. */
  serverKey: string;
}

export interface ServerEndpoint {
  key: string;
  address: string;
  port: number;
  instanceId: string;
}

export interface BundleIndex {
  sha256: string | null;
  slots: ReadonlyMap<string, SlotTarget>;
  servers: ReadonlyMap<string, ServerEndpoint>;
  /** Writer endpoint listener (backend) -> its PgBouncer alias. */
  writerAliases: ReadonlyMap<string, string>;
}

export const EMPTY_INDEX: BundleIndex = {
  sha256: null,
  slots: new Map(),
  servers: new Map(),
  writerAliases: new Map(),
};

export const serverKey = (address: string, port: number) => `${address}:${port}`;

export function indexBundle(bundle: Bundle): BundleIndex {
  const slots = new Map<string, SlotTarget>();
  const servers = new Map<string, ServerEndpoint>();
  // The same (slot, server) pairs an apply records as pending (state/pending-slots.ts).
  for (const c of candidatesOf(bundle)) {
    const key = serverKey(c.address, c.port);
    servers.set(key, { key, address: c.address, port: c.port, instanceId: c.instanceId });
    slots.set(slotKey(c.backend, c.slot), { ...c, serverKey: key });
  }
  const writerAliases = new Map<string, string>();
  for (const cluster of bundle.clusters) {
    if (cluster.writer && cluster.options.writer) {
      writerAliases.set(cluster.writer.backend, cluster.options.writer.alias);
    }
  }
  return { sha256: bundle.sha256, slots, servers, writerAliases };
}
