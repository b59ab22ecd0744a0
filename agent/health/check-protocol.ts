import type { SlotVerdict } from './health-monitor';
import { oneLine } from './verdict';

/**
 * The check listener's line protocol: one request line in, one reply line out, then close.
 *
 * 1. `<backend>/<slot>`: the line HAProxy sends in checkMode agent (a tcp-check, not HAProxy's
 *    agent-check: docs/HAPROXY-FACTS.md#tcp-check). The template asks with its own health
 *    check (`tcp-check send-lf "%[be_name]/%[srv_name]\n"`, `tcp-check expect rstring
 *    '^up( |\r?$)'`), which fails closed when the daemon is down. Reply:
 *      pass -> `up`
 *      fail -> `down #<reason>`
 *    It never answers `NN%`, `ready`, `drain` or `maint`: weights and the admin state belong
 *    to the bundle and apply (spare slots are in maintenance).
 *    The verdict is about every server the slot may live at (candidates.ts): during an apply
 *    HAProxy may point the slot at the applied bundle's server or the pending one, and this
 *    line does not say which, so it passes only when all of them pass.
 * 2. postgresqlchk: `check <backend>/<slot> <server addr> <server port>` -> `pass <reason>` or
 *    `fail <reason>`. The address and port HAProxy passes are what it actually connects to:
 *    the verdict is that server's, and only when it is one of the slot's candidates (applied
 *    or pending; a DNS name matches on the port); any other server fails.
 * 3. `status` -> one JSON line: the applied sha, the pending slot map in effect, pushes not
 *    yet answered, and every slot's verdict with its age (and each candidate's, when several).
 * Anything else gets `down #bad request: ...` (an agent that cannot parse a request must
 * not report a server up).
 */
export interface VerdictSource {
  sha256: string | null;
  /** The pending slot map in effect (apply waits for its sha before changing HAProxy). */
  pendingSha256?: string | null;
  pushesInFlight?(): number;
  verdictFor(key: string, now: number): SlotVerdict;
  /** External check: the verdict of `address:port` as a server of the slot. */
  verdictAt(key: string, address: string, port: number, now: number): SlotVerdict;
  snapshot(now: number): SlotVerdict[];
}

export const SLOT_KEY = /^[A-Za-z0-9_.-]{1,100}\/[A-Za-z0-9_.-]{1,20}$/;
const ADDRESS = /^(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f:.]{2,45})$/;
const PORT = /^\d{1,5}$/;

export interface DaemonStatus {
  sha256: string | null;
  /** The pending slot map the verdicts include (null: none). */
  pendingSha256?: string | null;
  /** Verdict pushes to HAProxy not yet answered. */
  pushesInFlight?: number;
  slots: {
    slot: string;
    instanceId?: string;
    address?: string;
    port?: number;
    role?: string;
    pass: boolean;
    reason: string;
    ageMs?: number;
    /** During an apply: every server the slot may be at, with its own verdict. */
    candidates?: {
      address: string;
      port: number;
      instanceId: string;
      pass: boolean;
      reason: string;
    }[];
  }[];
}

export function answerCheckRequest(rawLine: string, source: VerdictSource, now: number): string {
  const line = rawLine.replace(/\r$/, '');
  if (line === 'status') return JSON.stringify(statusOf(source, now));
  if (line.startsWith('check ')) return answerExternalCheck(line, source, now);
  if (SLOT_KEY.test(line)) {
    const { verdict } = source.verdictFor(line, now);
    return verdict.pass ? 'up' : `down #${verdict.reason}`;
  }
  return `down #bad request: expected <backend>/<slot>, got ${JSON.stringify(oneLine(line).slice(0, 60))}`;
}

function answerExternalCheck(line: string, source: VerdictSource, now: number): string {
  const parts = line.split(' ');
  const [, key, address, port] = parts;
  if (parts.length !== 4 || !key || !address || !port)
    return 'fail bad request: expected check <backend>/<slot> <addr> <port>';
  if (!SLOT_KEY.test(key)) return 'fail bad request: invalid <backend>/<slot>';
  if (!ADDRESS.test(address)) return 'fail bad request: invalid server address';
  const portNumber = Number(port);
  if (!PORT.test(port) || portNumber < 1 || portNumber > 65535)
    return 'fail bad request: invalid server port';
  const { verdict } = source.verdictAt(key, address, portNumber, now);
  return verdict.pass ? `pass ${verdict.reason}` : `fail ${verdict.reason}`;
}

/** The daemon's status document: applied sha and every slot's verdict with its age. */
export function statusOf(source: VerdictSource, now: number): DaemonStatus {
  return {
    sha256: source.sha256,
    pendingSha256: source.pendingSha256 ?? null,
    pushesInFlight: source.pushesInFlight?.() ?? 0,
    slots: source.snapshot(now).map((v) => ({
      slot: v.key,
      instanceId: v.target?.instanceId,
      address: v.target?.address,
      port: v.target?.port,
      role: v.target?.role,
      pass: v.verdict.pass,
      reason: v.verdict.reason,
      ageMs: v.ageMs,
      ...(v.candidates
        ? {
            candidates: v.candidates.map((c) => ({
              address: c.target.address,
              port: c.target.port,
              instanceId: c.target.instanceId,
              pass: c.verdict.pass,
              reason: c.verdict.reason,
            })),
          }
        : {}),
    })),
  };
}
