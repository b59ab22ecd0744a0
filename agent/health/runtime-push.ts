import { errorMessage } from '@aurora-haproxy/contract/error-message';
import type { Log } from '@aurora-haproxy/contract/log';
import type { CheckMode } from '@aurora-haproxy/contract/registry';
import { sendSocketCommand } from '../haproxy/unix-socket';

/**
 * Push a verdict change to HAProxy the moment the daemon sees it, through the runtime API
 * on the stats socket, so convergence does not wait for HAProxy's next check (external
 * checks run every 1 s and are forks; agent checks every 500 ms). The checks keep running
 * and keep HAProxy's view consistent afterwards; a push only gets there first.
 *
 * Both check modes are HAProxy health checks (external: postgresqlchk; agent: a tcp-check
 * line to the daemon), so the push is `set server <b>/<s> health down|up`: it forces the
 * health-check state, and the next check (which reads the same verdict) keeps it there.
 * Only operational state is touched, never the admin state (ready/maint/drain belongs to
 * apply: spare slots are in maintenance).
 */
export type { CheckMode };

export interface VerdictFlip {
  backend: string;
  slot: string;
  checkMode: CheckMode;
  pass: boolean;
  reason: string;
  /** Also end the sessions open to the server (a writer found in a reader slot). */
  shutdownSessions?: boolean;
}

const NAME = /^[A-Za-z0-9_.-]{1,100}$/;

export function pushCommand(flip: VerdictFlip): string {
  return pushCommands(flip)[0] as string;
}

/**
 * The runtime commands for one flip, in order: the state change, then (a writer found in a
 * reader slot) `shutdown sessions server`, so the sessions PgBouncer pools through HAProxy
 * to that server end and reconnect to a passing reader. Marking a server down alone only
 * stops new connections. Sessions are ended only for that reason: an unreachable server's
 * sessions end by themselves, and cutting a lagging reader's would trade stale reads for
 * errors mid-transaction.
 */
export function pushCommands(flip: VerdictFlip): string[] {
  if (!NAME.test(flip.backend) || !NAME.test(flip.slot)) {
    throw new Error(`refusing to push for invalid server name ${flip.backend}/${flip.slot}`);
  }
  const target = `${flip.backend}/${flip.slot}`;
  const commands = [`set server ${target} health ${flip.pass ? 'up' : 'down'}`];
  if (!flip.pass && flip.shutdownSessions) commands.push(`shutdown sessions server ${target}`);
  return commands;
}

export class RuntimePusher {
  /** Pushes run one at a time, in order, so a later flip never lands before an earlier one. */
  private chain: Promise<void> = Promise.resolve();
  pushed = 0;
  /** Pushes queued or sent but not answered yet (apply waits for 0, see agent/apply/pending.ts). */
  inFlight = 0;

  constructor(
    private readonly statsSocketPath: string,
    private readonly log: Log,
    private readonly timeoutMs = 1000,
  ) {}

  push(flip: VerdictFlip): Promise<void> {
    this.inFlight += 1;
    this.chain = this.chain
      .then(() => this.send(flip))
      .finally(() => {
        this.inFlight -= 1;
      });
    return this.chain;
  }

  idle(): Promise<void> {
    return this.chain;
  }

  private async send(flip: VerdictFlip): Promise<void> {
    let command: string;
    try {
      command = pushCommand(flip);
    } catch (error) {
      this.log.error('push refused', { error: errorMessage(error) });
      return;
    }
    try {
      const answer = (
        await sendSocketCommand(this.statsSocketPath, command, this.timeoutMs)
      ).trim();
      this.pushed += 1;
      if (answer !== '') this.log.warn('push answered', { command, answer: answer.slice(0, 200) });
      else this.log.info('pushed verdict', { command, reason: flip.reason });
    } catch (error) {
      // HAProxy may be reloading or not started yet: its own checks converge anyway.
      this.log.warn('push failed', { command, error: errorMessage(error) });
    }
  }
}
