import type { Log } from '@aurora-haproxy/contract/log';
import { hostResolverFor } from '../dns/host-resolver';
import {
  type BundleIndex,
  EMPTY_INDEX,
  type ServerEndpoint,
  type SlotTarget,
} from './bundle-index';
import {
  candidatesAt,
  decideSlotVerdict,
  type PendingIndex,
  type SlotDecision,
  slotCandidates,
} from './candidates';
import type { HealthConfig } from './config';
import type { CredentialsProvider, ProbeLogin } from './credentials';
import { CredentialsError } from './errors';
import { type LoginProof, type ProbeEndpoint, ServerProbe } from './probe';
import type { VerdictFlip } from './runtime-push';
import type { PgSsl } from './tls';
import type { ProbeResult, Verdict } from './verdict';
import { type Election, electionMembers, electWriter } from './writer-election';
import type { WriterEndpointView } from './writer-pause';

/**
 * The daemon's state: one probe per distinct server of the applied bundle, and the verdict
 * of every slot computed on demand from the latest probe result (a request costs a map
 * lookup and a pure function call). When a slot's verdict flips, `onFlip` is called at
 * once (the daemon pushes it to HAProxy's runtime API).
 *
 * Flips are reported only after a slot's first probe-based verdict: the first one is what
 * HAProxy's own checks establish, and an "unknown" on a slot just added says nothing new.
 *
 * A slot is judged by all its candidates (candidates.ts): the applied bundle's server and,
 * while an apply runs or after one was killed, every server the pending slot map names.
 * A new pending map is staged first: its new servers' probes start, and it takes effect once
 * each has a first result (or after `stageTimeoutMs`), so a re-addressed slot does not fail
 * as "unknown" (and lose its sessions) just because its new server was not probed yet. apply
 * changes nothing in HAProxy before `status` shows the map in effect (pendingSha256), so
 * nothing runs at a staged candidate. When the daemon starts, a pending map takes effect at
 * once (HAProxy may already run at its servers).
 */
export interface SlotVerdict {
  key: string;
  /** The slot's first candidate (the applied bundle's server when it has one). */
  target?: SlotTarget;
  /** Every candidate with its own verdict, when there is more than one (during an apply). */
  candidates?: { target: SlotTarget; verdict: Verdict }[];
  verdict: Verdict;
  /** Age of the probe result behind the verdict (undefined: no result yet). */
  ageMs?: number;
}

/** What the monitor needs of a probe (ServerProbe; a fake in unit tests). */
export interface Probe {
  start(): void;
  stop(): Promise<void>;
  latest(): ProbeResult | undefined;
  /** Make-before-break credential switch (ServerProbe.proveLogin). */
  proveLogin?(login: ProbeLogin): Promise<LoginProof>;
}

/** How a new probe credential went: servers that proved it, and those that did not answer. */
export interface LoginSwitch {
  proven: string[];
  unreachable: string[];
}

export type ProbeFactory = (
  endpoint: ProbeEndpoint,
  onResult: (endpoint: ProbeEndpoint, result: ProbeResult) => void,
) => Probe;

export interface HealthMonitorDeps {
  credentials: CredentialsProvider;
  ssl: (address: string) => PgSsl;
  log: Log;
  onFlip?: (flip: VerdictFlip) => void;
  now?: () => number;
  /** Default: a ServerProbe with the config's settings. */
  probeFactory?: ProbeFactory;
  /** Runtime pushes not yet answered (status shows it; apply waits for 0). */
  pushesInFlight?: () => number;
  /** Called after every evaluation, flips reported (the writer-endpoint PAUSE follows it). */
  onEvaluated?: () => void;
}

/** The pending slot map as the watcher read it: none, a map, or a file that did not parse. */
export type PendingState = PendingIndex | undefined | 'unreadable';

export class HealthMonitor {
  private index: BundleIndex = EMPTY_INDEX;
  /** The pending map in effect, and one staged until its new servers have a first result. */
  private pending: PendingIndex | undefined;
  private staged: { index: PendingIndex; since: number } | undefined;
  private pendingUnreadable = false;
  private loaded = false;
  private candidates = new Map<string, SlotTarget[]>();
  /** serverKey -> slot keys that have it as a candidate (a probe result re-judges those). */
  private slotsByServer = new Map<string, string[]>();
  /** Writer endpoint backend -> its slot keys (one election; a probe result re-judges all). */
  private memberSlotsByBackend = new Map<string, string[]>();
  private readonly probes = new Map<string, Probe>();
  private readonly probeFactory: ProbeFactory;
  private readonly lastPass = new Map<string, boolean>();
  private readonly now: () => number;
  private readonly stageTimeoutMs: number;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly config: HealthConfig,
    private readonly deps: HealthMonitorDeps,
  ) {
    this.now = deps.now ?? Date.now;
    // A first probe result (success or failure) comes within a connect + a statement timeout.
    this.stageTimeoutMs =
      config.connectTimeoutMs + config.statementTimeoutMs + config.probeIntervalMs;
    const resolveHost = hostResolverFor(config.nameserver);
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
          resolveHost,
        ));
  }

  get sha256(): string | null {
    return this.index.sha256;
  }

  /** The pending slot map in effect (null: none). */
  get pendingSha256(): string | null {
    return this.pending?.sha256 ?? null;
  }

  pushesInFlight(): number {
    return this.deps.pushesInFlight?.() ?? 0;
  }

  /** Re-evaluate every slot on a timer too, so a probe that stalls turns into a stale flip. */
  start(): void {
    this.timer = setInterval(
      () => {
        this.activateStaged();
        this.evaluateAll();
      },
      Math.max(50, this.config.probeIntervalMs),
    );
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const probes = [...this.probes.values()];
    this.probes.clear();
    await Promise.all(probes.map((p) => p.stop()));
  }

  /** Follow a new applied bundle (the pending map unchanged). */
  setIndex(index: BundleIndex): void {
    this.setState(
      index,
      this.pendingUnreadable ? 'unreadable' : (this.staged?.index ?? this.pending),
    );
  }

  /**
   * Follow the applied bundle and the pending slot map: start probes for new servers (of
   * both), stop those that left, re-judge every slot.
   */
  setState(index: BundleIndex, pending: PendingState): void {
    const first = !this.loaded;
    this.loaded = true;
    this.index = index;
    this.pendingUnreadable = pending === 'unreadable';
    if (pending === undefined || pending === 'unreadable') {
      this.pending = undefined;
      this.staged = undefined;
    } else if (first) {
      this.pending = pending;
      this.staged = undefined;
    } else {
      // Staged even when only re-read: it takes effect at once if all its servers are probed.
      const since = this.staged?.index.sha256 === pending.sha256 ? this.staged.since : this.now();
      this.staged = { index: pending, since };
    }
    this.syncProbes();
    this.activateStaged();
    this.rebuild();
  }

  private syncProbes(): void {
    const wanted = new Map<string, ServerEndpoint>(this.index.servers);
    for (const p of [this.pending, this.staged?.index]) {
      for (const [key, server] of p?.servers ?? []) wanted.set(key, server);
    }
    for (const [key, probe] of this.probes) {
      if (!wanted.has(key)) {
        this.probes.delete(key);
        void probe.stop();
      }
    }
    for (const [key, server] of wanted) {
      if (this.probes.has(key)) continue;
      const probe = this.probeFactory(
        { key, address: server.address, port: server.port },
        (endpoint, result) => this.onProbeResult(endpoint, result),
      );
      this.probes.set(key, probe);
      probe.start();
    }
  }

  /** Put the staged map in effect once its servers all have a result, or it waited long enough. */
  private activateStaged(): void {
    const staged = this.staged;
    if (!staged) return;
    const probed = [...staged.index.servers.keys()].every(
      (key) => this.probes.get(key)?.latest() !== undefined,
    );
    if (!probed && this.now() - staged.since < this.stageTimeoutMs) return;
    this.pending = staged.index;
    this.staged = undefined;
    this.deps.log.info('pending slot map in effect', {
      sha256: staged.index.sha256,
      waitedMs: this.now() - staged.since,
    });
    this.rebuild();
  }

  private rebuild(): void {
    this.candidates = slotCandidates(this.index, this.pending);
    const byServer = new Map<string, string[]>();
    for (const [key, targets] of this.candidates) {
      for (const t of targets)
        byServer.set(t.serverKey, [...(byServer.get(t.serverKey) ?? []), key]);
    }
    this.slotsByServer = byServer;
    const byBackend = new Map<string, string[]>();
    for (const [key, targets] of this.candidates) {
      const member = targets.find((t) => t.role === 'member');
      if (member) byBackend.set(member.backend, [...(byBackend.get(member.backend) ?? []), key]);
    }
    this.memberSlotsByBackend = byBackend;
    for (const key of this.lastPass.keys())
      if (!this.candidates.has(key)) this.lastPass.delete(key);
    this.evaluateAll();
  }

  private decide(candidates: readonly SlotTarget[], now: number): SlotDecision {
    if (this.pendingUnreadable) {
      return {
        verdict: { pass: false, reason: 'pending slot map unreadable: failing closed' },
        anyResult: true,
        each: [],
      };
    }
    const latest = (key: string) => this.probes.get(key)?.latest();
    return decideSlotVerdict(candidates, latest, now, this.config.freshnessMs, (backend) =>
      this.election(backend, now),
    );
  }

  /** The writer election of a writer endpoint backend, from every candidate of its slots. */
  election(backend: string, now = this.now()): Election {
    const targets = (this.memberSlotsByBackend.get(backend) ?? []).flatMap(
      (key) => this.candidates.get(key) ?? [],
    );
    return electWriter(
      electionMembers(targets, (key) => this.probes.get(key)?.latest()),
      now,
      this.config.freshnessMs,
    );
  }

  /**
   * Every writer endpoint of the applied bundle, keyed by its PgBouncer alias: is every
   * member probed, is a writer elected, and is a slot UP (reported passing: only the elected
   * writer's can be).
   */
  writerEndpoints(now = this.now()): Map<string, WriterEndpointView> {
    const views = new Map<string, WriterEndpointView>();
    for (const [backend, alias] of this.index.writerAliases) {
      const keys = this.memberSlotsByBackend.get(backend) ?? [];
      const targets = keys.flatMap((key) => this.candidates.get(key) ?? []);
      views.set(alias, {
        alias,
        informed:
          targets.length > 0 &&
          targets.every((t) => this.probes.get(t.serverKey)?.latest() !== undefined),
        elected: this.election(backend, now).writer !== undefined,
        writerUp: keys.some((key) => this.lastPass.get(key) === true),
      });
    }
    return views;
  }

  /** The verdict for `<backend>/<slot>` right now (all its candidates). Unknown slots fail. */
  verdictFor(key: string, now = this.now()): SlotVerdict {
    const candidates = this.candidates.get(key) ?? [];
    const decision = this.decide(candidates, now);
    return this.toSlotVerdict(key, candidates, decision);
  }

  /**
   * The verdict of an external check of `address:port` in `<backend>/<slot>`: about that
   * server only, and only when it is one of the slot's candidates.
   */
  verdictAt(key: string, address: string, port: number, now = this.now()): SlotVerdict {
    const candidates = this.candidates.get(key) ?? [];
    if (candidates.length === 0) return this.verdictFor(key, now);
    const matching = candidatesAt(candidates, address, port);
    if (matching.length === 0) {
      const known = candidates.map((c) => `${c.address}:${c.port}`).join(', ');
      return {
        key,
        target: candidates[0],
        verdict: {
          pass: false,
          reason: `HAProxy checks ${address}:${port}, not a server of slot ${key} (${known})`.slice(
            0,
            120,
          ),
        },
      };
    }
    return this.toSlotVerdict(key, matching, this.decide(matching, now));
  }

  private toSlotVerdict(
    key: string,
    candidates: readonly SlotTarget[],
    decision: SlotDecision,
  ): SlotVerdict {
    return {
      key,
      target: candidates[0],
      ...(decision.each.length > 1 ? { candidates: decision.each } : {}),
      verdict: decision.verdict,
      ageMs: decision.ageMs,
    };
  }

  /** Every slot (applied or pending) with its verdict and the age of its probe results. */
  snapshot(now = this.now()): SlotVerdict[] {
    return [...this.candidates.keys()].sort().map((key) => this.verdictFor(key, now));
  }

  /**
   * Switch every probe to a new credential, make-before-break: each probed server must first
   * accept a new connection with it. Pass conditions: no server refused the credential
   * (authentication error). Then `commit` runs (new connections use the credential from
   * now on) and each probe takes over its proven connection before its next query, closing
   * the old one; a server that did not answer at all keeps its old connection and reconnects
   * with the new credential when it must. Otherwise nothing changes: every new connection is
   * closed, every old one kept, and the error names the servers that refused.
   */
  async switchLogin(login: ProbeLogin, commit: () => void): Promise<LoginSwitch> {
    const probes = [...this.probes.values()];
    const proofs = await Promise.all(
      probes.map((p) => p.proveLogin?.(login)).filter((p) => p !== undefined),
    );
    const refused = proofs.filter((p) => p.authRefused);
    if (refused.length > 0) {
      for (const proof of proofs) proof.discard();
      const names = refused
        .map((p) => p.key)
        .slice(0, 3)
        .join(', ');
      throw new CredentialsError(
        `refused by ${refused.length}/${proofs.length} servers (${names}): ${refused[0]?.error ?? ''}`,
      );
    }
    commit();
    for (const proof of proofs) if (proof.ok) proof.adopt();
    return {
      proven: proofs.filter((p) => p.ok).map((p) => p.key),
      unreachable: proofs.filter((p) => !p.ok).map((p) => p.key),
    };
  }

  latestProbe(serverKey: string): ProbeResult | undefined {
    return this.probes.get(serverKey)?.latest();
  }

  private onProbeResult(endpoint: ProbeEndpoint, _result: ProbeResult): void {
    if (this.staged) this.activateStaged();
    const keys = new Set(this.slotsByServer.get(endpoint.key) ?? []);
    // A writer endpoint's result can change its election: every slot of that backend.
    for (const key of [...keys]) {
      const member = this.candidates.get(key)?.find((t) => t.role === 'member');
      for (const k of member ? (this.memberSlotsByBackend.get(member.backend) ?? []) : []) {
        keys.add(k);
      }
    }
    this.evaluateKeys([...keys], this.now());
  }

  /** Evaluate every slot now (the timer does this every probe interval). */
  evaluateAll(): void {
    this.evaluateKeys([...this.candidates.keys()], this.now());
  }

  /**
   * Flips to down are reported before flips to up, so a writer endpoint never has two slots
   * UP in HAProxy between two pushes (the old writer's down goes before the new one's up).
   */
  private evaluateKeys(keys: readonly string[], now: number): void {
    const decided = keys.map((key) => {
      const candidates = this.candidates.get(key) ?? [];
      return { key, candidates, decision: this.decide(candidates, now) };
    });
    for (const d of decided)
      if (!d.decision.verdict.pass) this.report(d.key, d.candidates, d.decision);
    for (const d of decided)
      if (d.decision.verdict.pass) this.report(d.key, d.candidates, d.decision);
    this.deps.onEvaluated?.();
  }

  private report(key: string, candidates: readonly SlotTarget[], decision: SlotDecision): void {
    const target = candidates[0];
    const { verdict, anyResult } = decision;
    if (!target || !anyResult) return;
    const previous = this.lastPass.get(key);
    this.lastPass.set(key, verdict.pass);
    if (previous === undefined || previous === verdict.pass) return;
    this.deps.log.info('verdict changed', {
      slot: key,
      pass: verdict.pass,
      reason: verdict.reason,
      shutdownSessions: verdict.writerInReaderSlot === true || verdict.lostWriterElection === true,
    });
    this.deps.onFlip?.({
      backend: target.backend,
      slot: target.slot,
      checkMode: target.checkMode,
      pass: verdict.pass,
      reason: verdict.reason,
      shutdownSessions: verdict.writerInReaderSlot === true || verdict.lostWriterElection === true,
    });
  }
}
