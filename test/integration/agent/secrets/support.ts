import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { AwsStandin } from '../../../../infra/local/aws-standin/aws-standin';
import type { PostgresCluster } from '../../../../infra/local/postgres-cluster';

/** The real SDK client against the stand-in (what the hosts use, endpoint aside). */
export function secretsClient(standin: AwsStandin): SecretsManagerClient {
  return new SecretsManagerClient({
    endpoint: standin.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
}

/** No Auto Scaling group: these tests use only the stand-in's Secrets Manager. */
export const NO_FLEET = { groupName: 'none', minSize: 0, maxSize: 0, instances: () => [] };

/**
 * Make every node ask `role` for its password (scram-sha-256) from loopback, ahead of the
 * stack's trust lines (first match wins), and reload: the probe credential is then really
 * checked, as Aurora checks it.
 */
export async function requirePassword(pg: PostgresCluster, role: string): Promise<void> {
  for (const node of pg.nodes()) {
    const hba = join(node.dataDir, 'pg_hba.conf');
    const line = `host all ${role} 127.0.0.0/8 scram-sha-256\n`;
    const text = readFileSync(hba, 'utf8');
    if (!text.startsWith(line)) writeFileSync(hba, line + text);
    if (node.running) await pg.query(node.name, 'SELECT pg_reload_conf()');
  }
}

/** A logger that keeps every line (tests assert that no secret reaches it). */
export function recordingLogger() {
  const lines: string[] = [];
  const add = (level: string) => (message: string, fields?: Record<string, unknown>) => {
    lines.push(JSON.stringify({ level, message, ...fields }));
  };
  return { lines, log: { info: add('info'), warn: add('warn'), error: add('error') } };
}
