import type { AgentAction } from '@aurora-haproxy/contract/agent-result';
import type { Bundle } from '@aurora-haproxy/contract/bundle';
import type { AgentConfig } from '../config';
import type { HaproxyMasterCli } from '../haproxy/master-cli';
import type { HaproxyRuntimeApi, RuntimeCommand } from '../haproxy/runtime-api';
import type { PgbouncerAdmin } from '../pgbouncer/admin';
import type { AgentState, StateStore } from '../state/state-store';
import type { decidePgbouncerReload } from './decide';
import type { PendingSettlement } from './pending';
import type { HostResolver } from './resolve';
import type { SlotRef } from './runtime-plan';

/** What an apply works with: the agent's config, its state, and HAProxy's and PgBouncer's admin. */
export interface ApplyDeps {
  config: AgentConfig;
  store: StateStore;
  runtime: HaproxyRuntimeApi;
  master: HaproxyMasterCli;
  pgbouncer: PgbouncerAdmin;
  /** Reads and verifies the bundle with this sha (DynamoDB or a file). */
  loadBundle(sha256: string): Promise<Bundle>;
  resolveHost?: HostResolver;
  /** Progress lines (stderr in the CLI; stdout carries only the result line). */
  log?: (line: string) => void;
  lockTimeoutMs?: number;
  /** Bound on the wait for the health daemon to take the pending slot map (pending.ts). */
  transitionWaitMs?: number;
}

export interface ApplyRequest {
  sha256: string;
  /**
   * Boot sync runs before HAProxy and PgBouncer start: when they are not running, the files
   * are installed and they load them when they start.
   */
  servicesMayBeDown?: boolean;
  /** Reload a bundle HAProxy refused before without a trial start or backoff (refusal.ts). */
  force?: boolean;
}

/** How an apply ended: the agent result to print, and what to settle before it is printed. */
export interface Outcome {
  ok: boolean;
  action: AgentAction;
  error?: string;
  /** The bundle now applied (undefined: unchanged from before). */
  applied?: Bundle;
  /** Leave `inProgress` set: the next apply must reload whatever runs. */
  keepInProgress?: boolean;
  /**
   * The pending slot map (pending.ts) after this outcome; `remove-after-applied` once the
   * applied bundle is written. Unset (before the map was written): left as it is.
   */
  pending?: PendingSettlement | 'remove-after-applied';
  /** Set by applyLocked for `remove-after-applied`. */
  settlePending?: () => string | undefined;
  /** HAProxy refused this bundle at reload (recorded so it is not retried every tick). */
  refusedReason?: string;
  /** ... although a trial start of it passed just before. */
  refusedAfterTrial?: boolean;
}

/** The change the steps make (apply.ts builds it once the plan says `change`). */
export interface ChangeInput {
  next: Bundle;
  applied: Bundle | undefined;
  live: { haproxy: string | undefined; pgbouncer: string | undefined };
  state: AgentState;
  decision: 'runtime' | 'reload';
  /** Whether PgBouncer RELOADs the include (decidePgbouncerReload). */
  pgbouncerReload: ReturnType<typeof decidePgbouncerReload>;
  stagedHaproxy: string;
  resolved: ReadonlyMap<string, string>;
  running: boolean;
  /** A trial start of this (once refused) bundle passed before this reload. */
  trialBeforeReload: boolean;
  log: (line: string) => void;
}

/** HAProxy runs `next` (runtime commands or a reload) and its file says so. */
export interface HaproxyApplied {
  kind: 'applied';
  path: 'runtime' | 'reload';
  /** PgBouncer databases whose pooled server connections must move (RECONNECT). */
  reconnect: string[];
  /** Second phase of a runtime apply: after the drained slots emptied. */
  afterDrain: { drained: SlotRef[]; commands: RuntimeCommand[] };
}
/** The apply ended in HAProxy's step; the outcome says what runs now. */
export interface Stopped {
  kind: 'stopped';
  outcome: Outcome;
}
/** The runtime step's ways out besides `applied`. */
export type RuntimeStepResult =
  | HaproxyApplied
  | { kind: 'reload-instead'; runtimeTouched: boolean }
  | { kind: 'undo'; why: string; haproxyCommitted: boolean; runtimeTouched: boolean };

export const NO_DRAIN: HaproxyApplied['afterDrain'] = { drained: [], commands: [] };
