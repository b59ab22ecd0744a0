import { readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { Bundle } from '@aurora-haproxy/contract/bundle';
import { listenersOf } from '@aurora-haproxy/contract/listeners';
import { HOSTNAME, IPV4, SHA256_HEX } from '@aurora-haproxy/contract/patterns';
import { CHECK_MODES } from '@aurora-haproxy/contract/registry';
import * as z from 'zod';
import { atomicWriteFile } from './atomic-write';

/**
 * <stateDir>/pending-slots.json: every server a slot may live at while an apply changes
 * HAProxy (issue 16 #1). apply writes it before its first HAProxy change and removes it only
 * once the applied bundle says what HAProxy runs (or a rollback put back what it said). The
 * health daemon then judges a slot by every candidate: the applied bundle's server and each
 * one listed here; a check passes only when all of them pass for the slot's role. Killed
 * midway, apply leaves the file, so the daemon stays strict until an apply converges.
 *
 * A new apply that finds the file left by a killed one adds its bundle's servers to it
 * (never replaces it): HAProxy may still run anything between the applied bundle and the
 * killed apply's target.
 */
export const PENDING_SLOTS_FILE = 'pending-slots.json';

const NAME = /^[A-Za-z0-9_.-]{1,100}$/;

export const PendingCandidateSchema = z.strictObject({
  backend: z.string().regex(NAME),
  slot: z.string().regex(/^[A-Za-z0-9_.-]{1,20}$/),
  clusterId: z.string().regex(NAME),
  instanceId: z.string().regex(NAME),
  address: z.string().refine((a) => IPV4.test(a) || HOSTNAME.test(a), 'address: IPv4 or hostname'),
  port: z.number().int().min(1).max(65535),
  /** member: a writer endpoint's slot (rdsWriter: RDS names the server the writer). */
  role: z.enum(['reader', 'writer', 'member']),
  rdsWriter: z.boolean().optional(),
  checkMode: z.enum(CHECK_MODES),
  options: z.strictObject({
    fallbackToWriter: z.boolean(),
    maxReplicaLagMs: z.number().int().min(0).optional(),
  }),
});

export const PendingSlotsSchema = z.strictObject({
  schema: z.literal(1),
  /** The bundle the apply that wrote it is installing (the daemon's `status` echoes it). */
  sha256: z.string().regex(SHA256_HEX),
  candidates: z.array(PendingCandidateSchema),
});

export type PendingCandidate = z.infer<typeof PendingCandidateSchema>;
export type PendingSlots = z.infer<typeof PendingSlotsSchema>;

export const pendingSlotsPath = (stateDir: string) => join(stateDir, PENDING_SLOTS_FILE);

/** Every (slot, server) of a bundle as candidates. */
export function candidatesOf(bundle: Bundle): PendingCandidate[] {
  return bundle.clusters.flatMap((cluster) =>
    listenersOf(cluster).flatMap((listener) =>
      listener.servers.map((server) => ({
        backend: listener.backend,
        slot: server.name,
        clusterId: cluster.clusterId,
        instanceId: server.instanceId,
        address: server.address,
        port: server.port,
        ...(listener.kind === 'writer'
          ? { role: 'member' as const, rdsWriter: server.role === 'writer' }
          : { role: server.role }),
        checkMode: cluster.options.checkMode,
        options: {
          fallbackToWriter: cluster.options.fallbackToWriter,
          ...(cluster.options.maxReplicaLagMs === undefined
            ? {}
            : { maxReplicaLagMs: cluster.options.maxReplicaLagMs }),
        },
      })),
    ),
  );
}

const candidateKey = (c: PendingCandidate) =>
  `${c.backend}/${c.slot} ${c.address}:${c.port} ${c.role}`;

/**
 * The pending map for installing `next`: `next`'s candidates plus those of a map left by a
 * killed apply (pure). Pass condition: no candidate of `leftover` is ever dropped.
 */
export function mergePendingSlots(leftover: PendingSlots | undefined, next: Bundle): PendingSlots {
  const merged = new Map<string, PendingCandidate>();
  for (const c of [...(leftover?.candidates ?? []), ...candidatesOf(next)]) {
    merged.set(candidateKey(c), c);
  }
  return { schema: 1, sha256: next.sha256, candidates: [...merged.values()] };
}

export function parsePendingSlots(text: string): PendingSlots {
  return PendingSlotsSchema.parse(JSON.parse(text));
}

/** The map on disk; undefined when there is none. Throws when it exists but is unreadable. */
export function readPendingSlots(stateDir: string): PendingSlots | undefined {
  let text: string;
  try {
    text = readFileSync(pendingSlotsPath(stateDir), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  return parsePendingSlots(text);
}

export function writePendingSlots(stateDir: string, pending: PendingSlots): void {
  atomicWriteFile(pendingSlotsPath(stateDir), `${JSON.stringify(pending)}\n`, 0o644);
}

/** Throws when the file stays (the daemon then stays strict, which is safe but worth saying). */
export function removePendingSlots(stateDir: string): void {
  try {
    unlinkSync(pendingSlotsPath(stateDir));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}
