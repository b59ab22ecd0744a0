import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AgentResultSchema } from '@aurora-haproxy/contract/agent-result';
import { type Bundle, parseBundle } from '@aurora-haproxy/contract/bundle';
import { SHA256_HEX } from '@aurora-haproxy/contract/patterns';
import * as z from 'zod';
import { atomicWriteFile } from './atomic-write';
import { StateFileError } from './errors';

/**
 * The agent's state directory:
 * - applied-bundle.json: the bundle HAProxy and PgBouncer run now (read by the health daemon
 *   and status); written atomically after an apply succeeds;
 * - state.json: {appliedSha256, lastResult, inProgress?}. `inProgress` is set before an apply
 *   touches anything and cleared when it finishes: found set, it means an apply was killed
 *   midway, and the next apply then assumes nothing about HAProxy's runtime state.
 * - apply.lock: see lock.ts.
 */
export const STATE_FILES = {
  appliedBundle: 'applied-bundle.json',
  state: 'state.json',
  lock: 'apply.lock',
} as const;

export const LastResultSchema = AgentResultSchema.extend({ finishedAt: z.iso.datetime() });

export const AgentStateSchema = z.strictObject({
  appliedSha256: z.string().regex(SHA256_HEX).nullable(),
  lastResult: LastResultSchema.optional(),
  inProgress: z
    .strictObject({
      sha256: z.string().regex(SHA256_HEX),
      startedAt: z.iso.datetime(),
      pid: z.number().int(),
    })
    .optional(),
  /** The last bundle HAProxy refused at reload, so it is not retried every tick (refusal.ts). */
  refused: z
    .strictObject({
      sha256: z.string().regex(SHA256_HEX),
      reason: z.string().max(1500),
      count: z.number().int().min(1),
      at: z.iso.datetime(),
      /** This refusal followed a trial start that passed (refusal.ts: no more trials). */
      trialPassed: z.boolean().optional(),
    })
    .optional(),
});

export type AgentState = z.infer<typeof AgentStateSchema>;
export type LastResult = z.infer<typeof LastResultSchema>;

export const EMPTY_STATE: AgentState = { appliedSha256: null };

export class StateStore {
  constructor(readonly dir: string) {}

  get lockPath(): string {
    return join(this.dir, STATE_FILES.lock);
  }

  get appliedBundlePath(): string {
    return join(this.dir, STATE_FILES.appliedBundle);
  }

  get statePath(): string {
    return join(this.dir, STATE_FILES.state);
  }

  ensureDir(): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o755 });
  }

  readState(): AgentState {
    const raw = readOptional(this.statePath);
    if (raw === undefined) return EMPTY_STATE;
    try {
      return AgentStateSchema.parse(JSON.parse(raw));
    } catch (cause) {
      throw new StateFileError(`state file ${this.statePath} is not valid`, { cause });
    }
  }

  writeState(state: AgentState): void {
    atomicWriteFile(this.statePath, `${JSON.stringify(AgentStateSchema.parse(state))}\n`);
  }

  /** The applied bundle, verified again (its sha must match its content), or undefined. */
  readAppliedBundle(): Bundle | undefined {
    const raw = readOptional(this.appliedBundlePath);
    if (raw === undefined) return undefined;
    try {
      return parseBundle(raw);
    } catch (cause) {
      throw new StateFileError(`applied bundle ${this.appliedBundlePath} is not valid`, { cause });
    }
  }

  writeAppliedBundle(bundle: Bundle): void {
    atomicWriteFile(this.appliedBundlePath, `${JSON.stringify(bundle)}\n`);
  }
}

/** A file's text, or undefined when it does not exist (any other error is thrown). */
export function readOptional(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
