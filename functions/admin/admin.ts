import { errorMessage } from '@aurora-haproxy/contract/error-message';
import { pgbouncerNeeded } from '@aurora-haproxy/contract/pooling';
import { REGISTRY_MAX_CLUSTERS, type RegistryCluster } from '@aurora-haproxy/contract/registry';
import type { RDSClient } from '@aws-sdk/client-rds';
import type { FleetViewReader } from '../fleet-view/read';
import type { FleetView } from '../fleet-view/view';
import {
  ClusterNotFoundError,
  RegistryError,
  RegistryFullError,
  RegistryValidationError,
} from '../registry/errors';
import type { RegistryStore } from '../registry/store';
import { type ReservedPorts, validationIssues } from '../registry/validate';
import type { Log } from '../shared/observability';
import { type ClientSource, clientOf } from './client-source';
import { withCurrentNames } from './deprecations';
import { RdsCheckError, StatusUnavailableError } from './errors';
import { fleetWarnings } from './fleet-warnings';
import type { ReconcileTrigger } from './reconcile-trigger';
import { type AdminRequest, adminRequestSchemaFor } from './request';
import { type AdminResult, failure, type ReconcileRequest } from './result';

/** The registry operations the admin actions need (RegistryStore, or a fake in the fuzz). */
export type RegistryPort = Pick<
  RegistryStore,
  'add' | 'update' | 'remove' | 'get' | 'list' | 'count'
>;

export interface AdminDeps {
  registry: RegistryPort;
  /** For `add`'s checks; its client module is loaded only then when given as a loader. */
  rds: ClientSource<RDSClient>;
  triggerReconcile: ReconcileTrigger;
  /** The fleet status (the orchestrator's readStatus, bound to its dependencies). */
  readStatus: () => Promise<unknown>;
  /** What the hosts report (functions/fleet-view); absent: status without the matrix. */
  readFleetView?: FleetViewReader;
  reservedPorts: ReservedPorts;
  log: Log;
}

/**
 * The admin Lambda's core. Pass conditions: the request parses against the admin schema
 * (else VALIDATION_FAILED and nothing is called); `add` passes the RDS checks unless forced;
 * the registry accepts the change; after a change a reconcile is requested (a failed
 * request is reported in the result, not as a failure: the change is made and the
 * scheduled reconcile catches up). Every error becomes {ok: false, error: {code, message}}.
 */
export async function runAdmin(raw: unknown, deps: AdminDeps): Promise<AdminResult> {
  const parsed = adminRequestSchemaFor(deps.reservedPorts).safeParse(raw);
  if (!parsed.success) {
    const error = new RegistryValidationError(validationIssues(parsed.error));
    return failure(error.code, error.message, [...error.issues]);
  }
  const request = parsed.data;
  try {
    return await perform(request, deps);
  } catch (error) {
    return translate(error, request, deps.log);
  }
}

async function perform(request: AdminRequest, deps: AdminDeps): Promise<AdminResult> {
  switch (request.action) {
    case 'add': {
      const { action: _action, force, ...requested } = request;
      const { input, warnings: renamed } = withCurrentNames(requested);
      // The ceiling (docs/BENCHMARKS.md): refused here, not found later by a reconcile that
      // cannot store or deliver the bundle. Two concurrent adds at the edge may both pass:
      // the storage limit (BUNDLE_MAX_PARTS) leaves room well past it.
      const registered = await deps.registry.count();
      if (registered >= REGISTRY_MAX_CLUSTERS) {
        throw new RegistryFullError(registered, REGISTRY_MAX_CLUSTERS);
      }
      if (!force) {
        // Loaded here: the RDS client's module is needed by `add` only.
        const { checkAuroraCluster } = await import('./rds-check');
        await checkAuroraCluster(await clientOf(deps.rds), input.clusterId);
      }
      const cluster = await deps.registry.add(input);
      deps.log.info('cluster registered', { clusterId: cluster.clusterId, port: cluster.port });
      return {
        ok: true,
        action: 'add',
        cluster,
        reconcile: await reconcile(deps, `add ${cluster.clusterId}`),
        ...withWarnings(renamed, await warningsFor(cluster, deps)),
      };
    }
    case 'update': {
      const { action: _action, ...requested } = request;
      const { input, warnings: renamed } = withCurrentNames(requested);
      const cluster = await deps.registry.update(input);
      deps.log.info('cluster updated', { clusterId: cluster.clusterId, version: cluster.version });
      return {
        ok: true,
        action: 'update',
        cluster,
        reconcile: await reconcile(deps, `update ${cluster.clusterId}`),
        ...withWarnings(renamed, await warningsFor(cluster, deps)),
      };
    }
    case 'remove': {
      const cluster = await deps.registry.remove(request.clusterId, request.version);
      deps.log.info('cluster removed', { clusterId: cluster.clusterId });
      return {
        ok: true,
        action: 'remove',
        cluster,
        reconcile: await reconcile(deps, `remove ${cluster.clusterId}`),
      };
    }
    case 'get': {
      const cluster: RegistryCluster | undefined = await deps.registry.get(request.clusterId);
      if (!cluster) {
        return failure('CLUSTER_NOT_FOUND', `clusterId: ${request.clusterId} is not registered`);
      }
      return { ok: true, action: 'get', cluster };
    }
    case 'list':
      return { ok: true, action: 'list', clusters: await deps.registry.list() };
    case 'status': {
      let status: unknown;
      try {
        status = await deps.readStatus();
      } catch (error) {
        throw new StatusUnavailableError(
          `could not read the fleet status: ${errorMessage(error)}`,
          {
            cause: error,
          },
        );
      }
      return { ok: true, action: 'status', status, ...(await fleetView(deps, request.clusterId)) };
    }
    case 'reconcile-now':
      return {
        ok: true,
        action: 'reconcile-now',
        reconcile: await reconcile(deps, 'reconcile-now'),
      };
  }
}

/**
 * The hosts' view for status. An unknown clusterId is CLUSTER_NOT_FOUND (unless a host still
 * reports it); the reports table failing leaves the rest of the status intact (viewError).
 */
async function fleetView(
  deps: AdminDeps,
  clusterId: string | undefined,
): Promise<{ view?: FleetView; viewError?: string }> {
  if (!deps.readFleetView) return {};
  const registered = await deps.registry.list();
  let view: FleetView;
  try {
    view = await deps.readFleetView(registered, clusterId);
  } catch (error) {
    deps.log.error('host reports unreadable', { error: errorMessage(error) });
    return { viewError: errorMessage(error) };
  }
  if (clusterId !== undefined && view.clusters.length === 0) {
    throw new ClusterNotFoundError(clusterId);
  }
  return { view };
}

/**
 * Fleet warnings for a stored cluster (fleet-warnings.ts). Only read when the options need
 * something of the hosts; an unreadable reports table is itself a warning (the change stands).
 */
async function warningsFor(
  cluster: RegistryCluster,
  deps: AdminDeps,
): Promise<{ warnings?: string[] }> {
  if (!deps.readFleetView || pgbouncerNeeded(cluster.options) === undefined) return {};
  try {
    const view = await deps.readFleetView([cluster]);
    const warnings = fleetWarnings(cluster, view.hosts);
    return warnings.length > 0 ? { warnings } : {};
  } catch (error) {
    deps.log.warn('host reports unreadable for the version check', { error: errorMessage(error) });
    return {
      warnings: [`could not check the hosts' PgBouncer versions: ${errorMessage(error)}`],
    };
  }
}

async function reconcile(deps: AdminDeps, reason: string): Promise<ReconcileRequest> {
  try {
    await deps.triggerReconcile(reason);
    return { triggered: true };
  } catch (error) {
    deps.log.warn('reconcile request failed; the scheduled run will catch up', {
      reason,
      error: errorMessage(error),
    });
    return { triggered: false, error: errorMessage(error) };
  }
}

/** Known errors keep their code and message; anything else is logged and answered INTERNAL. */
function translate(error: unknown, request: AdminRequest, log: Log): AdminResult {
  if (error instanceof RegistryValidationError) {
    return failure(error.code, error.message, [...error.issues]);
  }
  if (error instanceof RegistryError) {
    if (error.code === 'STORE_UNAVAILABLE') {
      log.error('registry store failed', { action: request.action, error: errorMessage(error) });
    }
    return failure(error.code, error.message);
  }
  if (error instanceof RdsCheckError || error instanceof StatusUnavailableError) {
    if (error instanceof StatusUnavailableError || error.code === 'RDS_UNAVAILABLE') {
      log.error(error.message, { action: request.action });
    }
    return failure(error.code, error.message);
  }
  log.error('admin action failed unexpectedly', {
    action: request.action,
    error: errorMessage(error),
    stack: error instanceof Error ? error.stack : undefined,
  });
  return failure(
    'INTERNAL',
    `${request.action} failed unexpectedly; the error is in the admin function's log`,
  );
}

/** The result's warnings: old option names first, then the fleet's; none, no field. */
function withWarnings(renamed: string[], fleet: { warnings?: string[] }): { warnings?: string[] } {
  const warnings = [...renamed, ...(fleet.warnings ?? [])];
  return warnings.length > 0 ? { warnings } : {};
}
