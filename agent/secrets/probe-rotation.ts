import { type Log, silentLog } from '@aurora-haproxy/contract/log';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { CredentialsProvider, ProbeLogin, ProbeTarget } from '../health/credentials';
import { CredentialsError } from '../health/errors';
import { type ProbeSecret, parseProbeSecret } from './probe-secret';
import { secretsManagerSource } from './source';
import { SecretWatcher } from './watcher';

/**
 * Probe credentials from a Secrets Manager secret that may rotate. The secret is polled
 * (SecretWatcher); a new version that parses is switched to make-before-break by the
 * switcher the daemon installs (HealthMonitor.switchLogin: every probed server proves a new
 * connection first); until then, and whenever a server refuses it, the last good credential
 * stays in use and the status says why. An authentication failure asks for an early poll
 * (the secret may have rotated while a connection was down).
 */
export type LoginSwitcher = (secret: ProbeSecret, commit: () => void) => Promise<void>;

export interface ProbeSecretOptions {
  secretId: string;
  region: string;
  pollMs: number;
  secretsManager?: Pick<SecretsManagerClient, 'send'>;
  log?: Log;
  now?: () => number;
}

export class ProbeSecretCredentials implements CredentialsProvider {
  private current: ProbeSecret | undefined;
  private switcher: LoginSwitcher | undefined;
  readonly watcher: SecretWatcher<ProbeSecret>;

  constructor(options: ProbeSecretOptions) {
    const client = options.secretsManager ?? new SecretsManagerClient({ region: options.region });
    this.watcher = new SecretWatcher<ProbeSecret>({
      name: 'probe',
      source: secretsManagerSource(client, options.secretId),
      parse: parseProbeSecret,
      apply: (secret) => this.apply(secret),
      intervalMs: options.pollMs,
      log: options.log ?? silentLog,
      now: options.now,
    });
  }

  /** The daemon's make-before-break switch; without one a new version is used at once. */
  useSwitcher(switcher: LoginSwitcher): void {
    this.switcher = switcher;
  }

  async login(target: ProbeTarget): Promise<ProbeLogin> {
    if (!this.current) await this.watcher.pollNow();
    const secret = this.current;
    if (!secret) {
      throw new CredentialsError(
        `probe secret ${this.watcher.secretId}: ${this.watcher.status().error ?? 'not read yet'}`,
      );
    }
    return { user: secret.username ?? target.user, password: secret.password };
  }

  invalidate(): void {
    this.watcher.pollSoon();
  }

  private async apply(secret: ProbeSecret): Promise<void> {
    if (!this.current || !this.switcher) {
      this.current = secret;
      return;
    }
    await this.switcher(secret, () => {
      this.current = secret;
    });
  }
}
