import { ReconcileTriggerError } from './errors';

/** Asks for a reconcile run; resolves once the request is accepted (not when it is done). */
export type ReconcileTrigger = (reason: string) => Promise<void>;

/** The payload of a direct invoke of the reconcile function by the admin Lambda. */
export interface AdminReconcileEvent {
  source: 'aurora-haproxy.admin';
  reason: string;
}

/** No reconcile function configured (e.g. a local run without one). */
export const noReconcileTrigger: ReconcileTrigger = async () => {
  throw new ReconcileTriggerError('no reconcile function is configured (RECONCILE_FUNCTION_NAME)');
};
