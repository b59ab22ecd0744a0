import type { Bundle } from '@aurora-haproxy/contract/bundle';
import type { HostValues } from '../config';
import { tlsPassthroughProblems } from '../haproxy/tls-passthrough';
import { installedInclude } from '../pgbouncer/host-include';
import { checkInclude, expectedDatabases } from '../pgbouncer/verify-databases';
import type { AgentState } from '../state/state-store';
import { type Decision, decideApplyPath, decidePgbouncerReload } from './decide';
import { type RefusalDecision, refusalDecision } from './refusal';

export interface ApplyPlanInput {
  /** The applied bundle (undefined: none, or unreadable). */
  applied: Bundle | undefined;
  next: Bundle;
  state: AgentState;
  /** The files on disk now. */
  live: { haproxy: string | undefined; pgbouncer: string | undefined };
  host: Pick<HostValues, 'listenAddress'>;
  now: Date;
  force: boolean | undefined;
}

/** What an apply will do, decided before anything changes. */
export type ApplyPlan =
  | { kind: 'unchanged'; decision: Decision }
  | { kind: 'refused'; decision: Decision; error: string }
  | {
      kind: 'change';
      decision: Decision & { path: 'runtime' | 'reload' };
      pgbouncerReload: ReturnType<typeof decidePgbouncerReload>;
      /** `trial`: refused before; reload only after a trial start passes. */
      refusal: Exclude<RefusalDecision, { kind: 'hold' }>;
    };

/**
 * The apply's plan, pure. In order: the path (decideApplyPath); then, for a change, the
 * refusal backoff (refusalDecision), the PgBouncer include the bundle carries (checkInclude:
 * exactly the bundle's aliases, nothing PgBouncer would stop at) and the HAProxy config's TLS
 * (passthrough only). A refused plan changes nothing. The runtime commands are planned later,
 * from HAProxy's live state (planRuntimeCommands), once the apply is marked in progress.
 */
export function planApply(input: ApplyPlanInput): ApplyPlan {
  const { applied, next, state, live, host } = input;
  const interrupted = state.inProgress !== undefined;
  const liveFilesMatchApplied =
    applied !== undefined &&
    live.haproxy === applied.files.haproxy &&
    live.pgbouncer === installedInclude(applied, host);
  const decision = decideApplyPath({ applied, next, interrupted, liveFilesMatchApplied });
  if (decision.path === 'unchanged') return { kind: 'unchanged', decision };

  const refusal = refusalDecision(state.refused, next.sha256, input.now, input.force);
  if (refusal.kind === 'hold') return { kind: 'refused', decision, error: refusal.error };
  const includeProblems = checkInclude(next.files.pgbouncerDatabases, expectedDatabases(next));
  if (includeProblems.length > 0) {
    return {
      kind: 'refused',
      decision,
      error: `the bundle's PgBouncer [databases] include is refused: ${includeProblems.join('; ')}; nothing changed`,
    };
  }
  const tlsProblems = tlsPassthroughProblems(next.files.haproxy);
  if (tlsProblems.length > 0) {
    return {
      kind: 'refused',
      decision,
      error: `the bundle's HAProxy config would terminate or originate TLS (PgBouncer's TLS to Aurora must pass through): ${tlsProblems.join('; ')}; nothing changed`,
    };
  }
  const pgbouncerReload = decidePgbouncerReload({
    includeOnDiskIsNext: live.pgbouncer === installedInclude(next, host),
    applied: applied !== undefined,
    interrupted,
    liveFilesMatchApplied,
  });
  return {
    kind: 'change',
    decision: { ...decision, path: decision.path },
    pgbouncerReload,
    refusal,
  };
}
