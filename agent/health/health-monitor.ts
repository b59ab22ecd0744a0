import { type BundleIndex, EMPTY_INDEX, type SlotTarget, slotKey } from './bundle-index';
import type { HealthConfig } from './config';
import type { CredentialsProvider } from './credentials';
import type { HealthLogger } from './log';
import { type ProbeEndpoint, ServerProbe } from './probe';
import type { VerdictFlip } from './runtime-push';
import type { PgSsl } from './tls';
import { decideVerdict, type ProbeResult, type Verdict } from './verdict';

/**
 * The daemon's state: one probe per distinct server of the applied bundle, and the verdict
 * of every slot computed on demand from the latest probe result (a request costs a map
 * lookup and a pure function call). When a slot's verdict flips, `onFlip` is called at
 * once (the daemon pushes it to HAProxy's runtime API).
 *
 * Flips are reported only after a slot's first probe-based verdict: the first one is what
 * HAProxy's own checks establish, and an "unknown" on a slot just added says nothing new.
 */
export interface SlotVerdict {
  key: string;
  target?: SlotTarget;
  verdict: Verdict;
  /** Age of the probe result behind the verdict (undefined: no result yet). */
  ageMs?: number;
}

/** What the monitor needs of a probe (ServerProbe; a fake in unit tests). */
export interface Probe {
  start(): void;
  stop(): Promise<void>;
  latest(): ProbeResult | undefined;
}

export type ProbeFactory = (
  endpoint: ProbeEndpoint,
  onResult: (endpoint: ProbeEndpoint, result: ProbeResult) => void,
) => Probe;

export interface HealthMonitorDeps {
  credentials: CredentialsProvider;
  ssl: (address: string) => PgSsl;
  log: HealthLogger;
  onFlip?: (flip: VerdictFlip) => void;
  now?: () => number;
  /** Default: a ServerProbe with the config's settings. */
  probeFactory?: ProbeFactory;
}

export class HealthMonitor {
  private index: BundleIndex = EMPTY_INDEX;
  private readonly probes = new Map<string, Probe>();
  private readonly probeFactory: ProbeFactory;
  private readonly lastPass = new Map<string, boolean>();
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly config: HealthConfig,
    private readonly deps: HealthMonitorDeps,
  ) {
    this.now = deps.now ?? Date.now;
    this.probeFactory =
      deps.probeFactory ??
      ((endpoint, onResult) =>
        new ServerProbe(
          endpoint,
          {
            intervalMs: config.probeIntervalMs,
            connectTimeoutMs: config.connectTimeoutMs,
            statementTimeoutMs: config.statementTimeoutMs,
            reconnectMinMs: config.reconnectMinMs,
            reconnectMaxMs: config.reconnectMaxMs,
            database: config.database,
            user: config.user,
          },
          deps.credentials,
          deps.ssl(endpoint.address),
          onResult,
          deps.log,
        ));
  }

  get sha256(): string | null {
    return this.index.sha256;
  }

  /** Re-evaluate every slot on a timer too, so a probe that stalls turns into a stale flip. */
  start(): void {
    this.timer = setInterval(() => this.evaluateAll(), Math.max(50, this.config.probeIntervalMs));
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const probes = [...this.probes.values()];
    this.probes.clear();
    await Promise.all(probes.map((p) => p.stop()));
  }

  /** Follow a new applied bundle: start probes for new servers, stop those that left. */
  setIndex(index: BundleIndex): void {
    this.index = index;
    for (const [key, probe] of this.probes) {
      if (!index.servers.has(key)) {
        this.probes.delete(key);
        void probe.stop();
      }
    }
    for (const [key, server] of index.servers) {
      if (this.probes.has(key)) continue;
      const probe = this.probeFactory(
        { key, address: server.address, port: server.port },
        (endpoint, result) => this.onProbeResult(endpoint, result),
      );
      this.probes.set(key, probe);
      probe.start();
    }
    for (const key of this.lastPass.keys()) if (!index.slots.has(key)) this.lastPass.delete(key);
    this.evaluateAll();
  }

  /** The verdict for `<backend>/<slot>` right now. Unknown slots fail. */
  verdictFor(key: string, now = this.now()): SlotVerdict {
    const target = this.index.slots.get(key);
    if (!target)
      return { key, verdict: { pass: false, reason: 'unknown slot: not in the applied bundle' } };
    const probe = this.probes.get(target.serverKey)?.latest();
    return {
      key,
      target,
      verdict: decideVerdict(probe, target.role, target.options, now, this.config.freshnessMs),
      ageMs: probe ? now - probe.observedAt : undefined,
    };
  }

  /** Every slot of the applied bundle with its verdict and the age of its probe result. */
  snapshot(now = this.now()): SlotVerdict[] {
    return [...this.index.slots.keys()].sort().map((key) => this.verdictFor(key, now));
  }

  latestProbe(serverKey: string): ProbeResult | undefined {
    return this.probes.get(serverKey)?.latest();
  }

  private onProbeResult(endpoint: ProbeEndpoint, _result: ProbeResult): void {
    const now = this.now();
    for (const target of this.index.slots.values()) {
      if (target.serverKey === endpoint.key)
        this.evaluate(slotKey(target.backend, target.slot), now);
    }
  }

  /** Evaluate every slot now (the timer does this every probe interval). */
  evaluateAll(): void {
    const now = this.now();
    for (const key of this.index.slots.keys()) this.evaluate(key, now);
  }

  private evaluate(key: string, now: number): void {
    const { target, verdict, ageMs } = this.verdictFor(key, now);
    if (!target || ageMs === undefined) return;
    const previous = this.lastPass.get(key);
    this.lastPass.set(key, verdict.pass);
    if (previous === undefined || previous === verdict.pass) return;
    this.deps.log.info('verdict changed', {
      slot: key,
      pass: verdict.pass,
      reason: verdict.reason,
      shutdownSessions: verdict.writerInReaderSlot === true,
    });
    this.deps.onFlip?.({
      backend: target.backend,
      slot: target.slot,
      checkMode: target.checkMode,
      pass: verdict.pass,
      reason: verdict.reason,
      shutdownSessions: verdict.writerInReaderSlot === true,
    });
  }
}
