import { HOSTNAME } from '@aurora-haproxy/contract/patterns';
import { HaproxyCommandError } from './errors';
import { parseServersState, type ServersStateDump } from './servers-state';
import { sendSocketCommand } from './unix-socket';

/**
 * HAProxy's runtime API on the stats socket (admin level). Every `set server` answer is
 * checked: HAProxy prints nothing on success (or a "changed" note for `addr`) and a message
 * such as "No such server." on failure, which becomes a HaproxyCommandError.
 */
export type ServerAdminState = 'ready' | 'maint' | 'drain';

export type RuntimeCommand =
  | { kind: 'addr'; backend: string; server: string; address: string; port: number }
  | { kind: 'state'; backend: string; server: string; state: ServerAdminState }
  | { kind: 'weight'; backend: string; server: string; weight: number }
  | { kind: 'fqdn'; backend: string; server: string; fqdn: string }
  /**
   * Force the operational (health) state. `stopping`: no new connection, sessions kept, the
   * next passing check makes it UP; `down`: needs `rise` passing checks (and, through
   * `on-marked-down shutdown-sessions`, ends the sessions of a server that was up).
   */
  | { kind: 'health'; backend: string; server: string; health: 'down' | 'stopping' };

const NAME = /^[A-Za-z0-9_.-]+$/;
const IPV4_OR_6 = /^[0-9a-fA-F:.]+$/;

export function formatRuntimeCommand(command: RuntimeCommand): string {
  const { backend, server } = command;
  if (!NAME.test(backend) || !NAME.test(server)) {
    throw new HaproxyCommandError(`invalid backend/server name ${backend}/${server}`);
  }
  const target = `${backend}/${server}`;
  switch (command.kind) {
    case 'addr':
      if (!IPV4_OR_6.test(command.address) || !Number.isInteger(command.port)) {
        throw new HaproxyCommandError(`invalid address ${command.address}:${command.port}`);
      }
      return `set server ${target} addr ${command.address} port ${command.port}`;
    case 'state':
      return `set server ${target} state ${command.state}`;
    case 'weight':
      if (!Number.isInteger(command.weight) || command.weight < 0 || command.weight > 256) {
        throw new HaproxyCommandError(`invalid weight ${command.weight}`);
      }
      return `set server ${target} weight ${command.weight}`;
    case 'health':
      return `set server ${target} health ${command.health === 'down' ? 'down' : 'stopping'}`;
    case 'fqdn':
      if (!HOSTNAME.test(command.fqdn))
        throw new HaproxyCommandError(`invalid fqdn ${command.fqdn}`);
      return `set server ${target} fqdn ${command.fqdn}`;
  }
}

const SUCCESS_NOTES = [
  /^IP changed from/,
  /^port changed from/,
  /^no need to change/i,
  / changed its FQDN from /,
];

export function isSuccessfulSetAnswer(answer: string): boolean {
  const text = answer.trim();
  return text === '' || SUCCESS_NOTES.some((pattern) => pattern.test(text));
}

/** `show stat` CSV (header line "# pxname,svname,qcur,qmax,scur,..."), as records. */
export function parseStatCsv(text: string): Record<string, string>[] {
  const lines = text.split('\n').filter((line) => line.trim() !== '');
  const header = lines[0]?.replace(/^#\s*/, '').split(',');
  if (!header || !lines[0]?.startsWith('#'))
    throw new HaproxyCommandError('show stat: no CSV header');
  return lines.slice(1).map((line) => {
    const cells = line.split(',');
    return Object.fromEntries(header.map((name, i) => [name, cells[i] ?? '']));
  });
}

export class HaproxyRuntimeApi {
  constructor(
    readonly statsSocket: string,
    private readonly timeoutMs = 5_000,
  ) {}

  command(line: string): Promise<string> {
    return sendSocketCommand(this.statsSocket, line, this.timeoutMs);
  }

  async showServersState(backend?: string): Promise<ServersStateDump> {
    const answer = await this.command(
      backend ? `show servers state ${backend}` : 'show servers state',
    );
    try {
      return parseServersState(answer);
    } catch (cause) {
      throw new HaproxyCommandError(`show servers state: ${answer.trim().slice(0, 200)}`, {
        cause,
      });
    }
  }

  /** Raw `show servers state` text, as the server-state file stores it. */
  async dumpServersState(): Promise<string> {
    const answer = await this.command('show servers state');
    parseServersState(answer); // refuse to store anything that is not a state dump
    return answer;
  }

  /** Current sessions of one server (`scur` in `show stat`). */
  async currentSessions(backend: string, server: string): Promise<number> {
    const rows = parseStatCsv(await this.command('show stat'));
    const row = rows.find((r) => r.pxname === backend && r.svname === server);
    if (!row) throw new HaproxyCommandError(`show stat has no ${backend}/${server}`);
    return Number(row.scur ?? 0);
  }

  async run(command: RuntimeCommand): Promise<void> {
    const line = formatRuntimeCommand(command);
    const answer = await this.command(line);
    if (!isSuccessfulSetAnswer(answer)) {
      throw new HaproxyCommandError(`"${line}" failed: ${answer.trim().slice(0, 300)}`);
    }
  }
}
