import type { RegistryCluster } from '@aurora-haproxy/contract/registry';
import type { FleetView } from '../fleet-view/view';
import type { ValidationIssue } from '../registry/errors';

/**
 * What the admin Lambda answers: always an object, never a stack trace.
 * Failure codes: VALIDATION_FAILED, CLUSTER_EXISTS, PORT_TAKEN, ALIAS_TAKEN,
 * VERSION_CONFLICT, CLUSTER_NOT_FOUND, REGISTRY_FULL, STORE_UNAVAILABLE, RDS_*, STATUS_UNAVAILABLE,
 * CONFIG_INVALID, INTERNAL.
 */
export interface AdminError {
  code: string;
  message: string;
  /** For VALIDATION_FAILED: every problem, one per field. */
  issues?: ValidationIssue[];
}

export interface AdminFailure {
  ok: false;
  error: AdminError;
}

/** Whether the reconcile run after an edit was requested; a failed request is not fatal. */
export type ReconcileRequest = { triggered: true } | { triggered: false; error: string };

export type AdminSuccess =
  | {
      ok: true;
      action: 'add' | 'update' | 'remove';
      cluster: RegistryCluster;
      reconcile: ReconcileRequest;
      /** The change is stored; something in the fleet may not serve it (fleet-warnings.ts). */
      warnings?: string[];
    }
  | { ok: true; action: 'get'; cluster: RegistryCluster }
  | { ok: true; action: 'list'; clusters: RegistryCluster[] }
  | {
      ok: true;
      action: 'status';
      status: unknown;
      /** What the hosts report (functions/fleet-view); absent without a reports table. */
      view?: FleetView;
      /** Why the fleet view could not be read (the rest of the status still is). */
      viewError?: string;
    }
  | { ok: true; action: 'reconcile-now'; reconcile: ReconcileRequest };

export type AdminResult = AdminSuccess | AdminFailure;

export function failure(code: string, message: string, issues?: ValidationIssue[]): AdminFailure {
  return { ok: false, error: issues ? { code, message, issues } : { code, message } };
}
