import type { RegistryCluster } from '@aurora-haproxy/contract/registry';
import type { Log } from '../shared/observability';
import type { RegistryStore } from './store';

/**
 * The registry as reconcile reads it: a stored cluster that no longer parses (stored before a
 * rule refused it, e.g. the alias `pgbouncer`, or damaged by hand) is left out of the bundle
 * and logged as an error naming it, instead of failing every reconcile for every cluster.
 * Leaving it out removes its listener and aliases from the hosts: that cluster is what is
 * broken, and the error says so; the admin API's `get`/`list` still answer it as malformed.
 */
export function servableRegistry(
  store: Pick<RegistryStore, 'list'>,
  log: Log,
): { list(): Promise<RegistryCluster[]> } {
  return {
    list: () =>
      store.list({
        onInvalid: (error) =>
          log.error('registry item left out of the bundle: it does not parse', {
            error: error.message,
          }),
      }),
  };
}
