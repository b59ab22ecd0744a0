import { slotKey } from '@aurora-haproxy/contract/names';
import { IPV4 } from '@aurora-haproxy/contract/patterns';
import type { PendingSlots } from '../state/pending-slots';
import { type BundleIndex, type ServerEndpoint, type SlotTarget, serverKey } from './bundle-index';
import { decideVerdict, type ProbeResult, type Verdict } from './verdict';
import { type Election, memberVerdict } from './writer-election';

/**
 * A slot's candidates: every server it may live at right now. Outside an apply that is the
 * applied bundle's server. While an apply changes HAProxy (or after one was killed midway)
 * it is also each server the pending slot map names for the slot (state/pending-slots.ts):
 * in agent check mode HAProxy asks by slot name only, and the daemon cannot know which of
 * them HAProxy points the slot at at this instant, so it answers for all of them.
 */
export interface PendingIndex {
  sha256: string;
  slots: ReadonlyMap<string, readonly SlotTarget[]>;
  servers: ReadonlyMap<string, ServerEndpoint>;
}

export function indexPending(pending: PendingSlots): PendingIndex {
  const slots = new Map<string, SlotTarget[]>();
  const servers = new Map<string, ServerEndpoint>();
  for (const c of pending.candidates) {
    const key = serverKey(c.address, c.port);
    servers.set(key, { key, address: c.address, port: c.port, instanceId: c.instanceId });
    const list = slots.get(slotKey(c.backend, c.slot)) ?? [];
    list.push({ ...c, options: { ...c.options }, serverKey: key });
    slots.set(slotKey(c.backend, c.slot), list);
  }
  return { sha256: pending.sha256, slots, servers };
}

/** Slot key -> candidates (applied first), one per distinct server and role (pure). */
export function slotCandidates(
  applied: BundleIndex,
  pending: PendingIndex | undefined,
): Map<string, SlotTarget[]> {
  const out = new Map<string, SlotTarget[]>();
  const add = (key: string, target: SlotTarget) => {
    const list = out.get(key) ?? [];
    if (!list.some((t) => t.serverKey === target.serverKey && t.role === target.role)) {
      list.push(target);
    }
    out.set(key, list);
  };
  for (const [key, target] of applied.slots) add(key, target);
  for (const [key, targets] of pending?.slots ?? []) for (const t of targets) add(key, t);
  return out;
}

export interface SlotDecision {
  verdict: Verdict;
  /** Oldest probe result among the candidates (undefined: none has a result yet). */
  ageMs?: number;
  /** At least one candidate has a probe result (flips are reported only then). */
  anyResult: boolean;
  /** Each candidate's own verdict (status shows them during an apply). */
  each: { target: SlotTarget; verdict: Verdict }[];
}

/**
 * Pass conditions of a slot: it has at least one candidate, and EVERY candidate passes
 * decideVerdict (verdict.ts) for its role. So a slot that may live at the writer fails,
 * whichever server HAProxy points it at. A failing verdict names the failing server when
 * there is more than one candidate, and carries writerInReaderSlot when any failing
 * candidate is a writer in a reader slot (its sessions are then ended too).
 * A writer endpoint's slot (role member) judges each candidate by the election of its
 * backend (`electionOf`, writer-election.ts): it passes only when every candidate is the
 * elected writer; a candidate that claims the writer and lost ends its sessions too.
 */
export function decideSlotVerdict(
  candidates: readonly SlotTarget[],
  latest: (serverKey: string) => ProbeResult | undefined,
  now: number,
  freshnessMs: number,
  electionOf: (backend: string) => Election = () => ({
    claimants: [],
    reason: 'no writer election for this slot',
  }),
): SlotDecision {
  if (candidates.length === 0) {
    return {
      verdict: { pass: false, reason: 'unknown slot: not in the applied bundle' },
      anyResult: false,
      each: [],
    };
  }
  let ageMs: number | undefined;
  const each = candidates.map((target) => {
    const probe = latest(target.serverKey);
    if (probe) ageMs = Math.max(ageMs ?? 0, now - probe.observedAt);
    const verdict =
      target.role === 'member'
        ? memberVerdict(target.serverKey, probe, electionOf(target.backend), now, freshnessMs)
        : decideVerdict(probe, target.role, target.options, now, freshnessMs);
    return { target, verdict };
  });
  const anyResult = ageMs !== undefined;
  const failing = each.filter((e) => !e.verdict.pass);
  if (failing.length === 0) {
    const first = each[0] as (typeof each)[number];
    const reason =
      each.length === 1
        ? first.verdict.reason
        : `${first.verdict.reason} (all ${each.length} servers the slot may be at pass)`;
    return { verdict: { ...first.verdict, reason }, ageMs, anyResult, each };
  }
  const worst = (failing.find((e) => e.verdict.writerInReaderSlot) ??
    failing.find((e) => e.verdict.lostWriterElection) ??
    failing[0]) as (typeof each)[number];
  const reason =
    each.length === 1
      ? worst.verdict.reason
      : `${worst.target.serverKey} ${worst.verdict.reason} (slot may be at it during an apply)`;
  return {
    verdict: {
      pass: false,
      reason: reason.slice(0, 120),
      ...(worst.verdict.writerInReaderSlot ? { writerInReaderSlot: true as const } : {}),
      ...(worst.verdict.lostWriterElection ? { lostWriterElection: true as const } : {}),
    },
    ageMs,
    anyResult,
    each,
  };
}

/**
 * The candidates HAProxy's external check of `address:port` is about (pure): same port, and
 * the same address, or (a DNS name) any address, since HAProxy passes the resolved IP.
 * Empty: HAProxy checks a server that is no candidate of the slot, so the check fails.
 */
export function candidatesAt(
  candidates: readonly SlotTarget[],
  address: string,
  port: number,
): SlotTarget[] {
  return candidates.filter(
    (c) => c.port === port && (c.address === address || !IPV4.test(c.address)),
  );
}
