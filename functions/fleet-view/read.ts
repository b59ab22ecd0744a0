import type { RegistryCluster } from '@aurora-haproxy/contract/registry';
import { RegistryConfigError } from '../registry/errors';
import type { HostReportStore } from './store';
import { buildFleetView, DEFAULT_STALE_AFTER_MS, type FleetView } from './view';

/**
 * The fleet view for `clusters status`: the hosts' reports joined with the registry.
 * HOST_REPORTS_TABLE names the table; HOST_REPORT_STALE_MS the staleness bound (default 30 s,
 * 6 missed heartbeats of 5 s).
 */
export type FleetViewReader = (
  registered: readonly RegistryCluster[],
  clusterId?: string,
) => Promise<FleetView>;

export function fleetViewReader(
  store: Pick<HostReportStore, 'list'>,
  staleAfterMs = DEFAULT_STALE_AFTER_MS,
  now: () => number = Date.now,
): FleetViewReader {
  return async (registered, clusterId) =>
    buildFleetView(
      await store.list(),
      registered.map((c) => c.clusterId),
      now(),
      staleAfterMs,
      clusterId,
    );
}

/** HOST_REPORT_STALE_MS: a positive integer of ms, else the default. */
export function staleAfterMsFromEnv(value: string | undefined): number {
  if (value === undefined || value === '') return DEFAULT_STALE_AFTER_MS;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1000 || n > 3_600_000) {
    throw new RegistryConfigError(
      `HOST_REPORT_STALE_MS must be an integer of ms in 1000..3600000, got ${value}`,
    );
  }
  return n;
}
