import type { SlotVerdict } from './health-monitor';
import { oneLine } from './verdict';

/**
 * The check listener's line protocol: one request line in, one reply line out, then close.
 *
 * 1. `<backend>/<slot>`: the line HAProxy sends in checkMode agent. The template asks with
 *    its own health check (`tcp-check send-lf "%[be_name]/%[srv_name]\n"`, `tcp-check expect
 *    rstring '^up\r?$'`), which fails closed when the daemon is down. Reply:
 *      pass -> `up`
 *      fail -> `down #<reason>`
 *    The same line is a valid HAProxy agent-check reply, so `agent-check agent-send
 *    "<backend>/<slot>\n"` works too. `up` alone never restores a weight, but the daemon
 *    never lowers one (it sends no `NN%`): weights belong to the bundle and apply. It never
 *    answers `ready`, `drain` or `maint` either: those set the admin state, which belongs
 *    to apply (spare slots are in maintenance; an agent `ready` would enable one).
 * 2. postgresqlchk: `check <backend>/<slot> <server addr> <server port>` -> `pass <reason>` or
 *    `fail <reason>`. The address and port HAProxy passes are what it actually connects to:
 *    a port (or, when the bundle has an IP, an address) that differs from the applied
 *    bundle's fails, since the verdict would be about another server.
 * 3. `status` -> one JSON line: the applied sha and every slot's verdict with its age.
 * Anything else gets `down #bad request: ...` (an agent that cannot parse a request must
 * not report a server up).
 */
export interface VerdictSource {
  sha256: string | null;
  verdictFor(key: string, now: number): SlotVerdict;
  snapshot(now: number): SlotVerdict[];
}

export const SLOT_KEY = /^[A-Za-z0-9_.-]{1,100}\/[A-Za-z0-9_.-]{1,20}$/;
const ADDRESS = /^(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f:.]{2,45})$/;
const PORT = /^\d{1,5}$/;

export interface DaemonStatus {
  sha256: string | null;
  slots: {
    slot: string;
    instanceId?: string;
    address?: string;
    port?: number;
    role?: string;
    pass: boolean;
    reason: string;
    ageMs?: number;
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
  const { target, verdict } = source.verdictFor(key, now);
  if (target && target.port !== portNumber) {
    return `fail slot ${key} has port ${target.port} in the applied bundle, HAProxy checks ${portNumber}`;
  }
  if (target && ADDRESS.test(target.address) && target.address !== address) {
    return `fail slot ${key} has address ${target.address} in the applied bundle, HAProxy checks ${address}`;
  }
  return verdict.pass ? `pass ${verdict.reason}` : `fail ${verdict.reason}`;
}

/** The daemon's status document: applied sha and every slot's verdict with its age. */
export function statusOf(source: VerdictSource, now: number): DaemonStatus {
  return {
    sha256: source.sha256,
    slots: source.snapshot(now).map((v) => ({
      slot: v.key,
      instanceId: v.target?.instanceId,
      address: v.target?.address,
      port: v.target?.port,
      role: v.target?.role,
      pass: v.verdict.pass,
      reason: v.verdict.reason,
      ageMs: v.ageMs,
    })),
  };
}
