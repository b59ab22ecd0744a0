/**
 * Fault switch and call counter of a stand-in. A fault answers the next `calls` requests, or
 * every request for `forMs`, with throttling or an internal error (optionally only for some
 * actions), so tests and the bench can check that an API fault is never taken for a change.
 * Every request is counted per action, faulted or not (retries by the SDK count too: that is
 * what AWS counts against the account's limits).
 */
export type FaultKind = 'throttle' | 'internal';

export interface FaultSpec {
  kind: FaultKind;
  /** Fault this many requests, then stop. */
  calls?: number;
  /** Fault every request for this long (from now). */
  forMs?: number;
  /** Only these actions (default: all). */
  actions?: readonly string[];
}

interface ActiveFault {
  kind: FaultKind;
  remaining: number;
  until: number;
  actions?: ReadonlySet<string>;
}

export class FaultSwitch {
  private active: ActiveFault | undefined;
  private readonly counts = new Map<string, number>();
  private faulted = 0;

  /** Arm a fault; replaces any fault still armed. */
  set(spec: FaultSpec): void {
    if (spec.calls === undefined && spec.forMs === undefined) {
      throw new Error('a fault needs calls or forMs');
    }
    this.active = {
      kind: spec.kind,
      remaining: spec.calls ?? Number.POSITIVE_INFINITY,
      until: spec.forMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + spec.forMs,
      actions: spec.actions ? new Set(spec.actions) : undefined,
    };
  }

  clear(): void {
    this.active = undefined;
  }

  /** Count the request and say which fault (if any) answers it. */
  onRequest(action: string): FaultKind | undefined {
    this.counts.set(action, (this.counts.get(action) ?? 0) + 1);
    const fault = this.active;
    if (!fault) return undefined;
    if (fault.remaining <= 0 || Date.now() >= fault.until) {
      this.active = undefined;
      return undefined;
    }
    if (fault.actions && !fault.actions.has(action)) return undefined;
    fault.remaining -= 1;
    this.faulted += 1;
    return fault.kind;
  }

  get armed(): boolean {
    const fault = this.active;
    return !!fault && fault.remaining > 0 && Date.now() < fault.until;
  }

  /** Requests per action since the last reset. */
  calls(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }

  totalCalls(): number {
    let total = 0;
    for (const n of this.counts.values()) total += n;
    return total;
  }

  faultedCalls(): number {
    return this.faulted;
  }

  resetCounts(): void {
    this.counts.clear();
    this.faulted = 0;
  }
}
