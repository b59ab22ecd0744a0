import { type Bundle, sealBundle } from '@aurora-haproxy/contract/bundle';
import { decodeBundleBody, encodeBundleItem } from '@aurora-haproxy/contract/bundle-item';
import { keys } from '@aurora-haproxy/contract/table';
import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DesiredPointerStore } from '../../functions/state/desired-pointer';
import {
  ARTIFACT_KEY,
  BootHarness,
  PROBE_SECRET,
  type Settings,
  USERLIST_SECRET,
} from '../../packages/local-stack/boot/boot-harness';
import { TABLE_NAME } from '../../packages/local-stack/stack';
import { ALIAS, CLUSTER, unitStates } from './support';

/**
 * A boot that cannot serve must end in ABANDON (the group replaces the instance), with the
 * reason in the boot log, and never in CONTINUE. Each case boots a fresh host that stops at
 * its fault; nothing after the fault runs (no unit serves).
 */
let harness: BootHarness;
let ddb: DynamoDBClient;

async function brokenBoot(instanceId: string, overrides: Partial<Settings>): Promise<string> {
  const host = await harness.bootNewHost(instanceId);
  try {
    const run = await host.runUserData(harness.userData(overrides));
    const log = host.readFile('var/log/aurora-haproxy-boot.log');
    expect(run.code, log.slice(-2000)).not.toBe(0);
    const mine = harness.standins.completions.filter((c) => c.instanceId === instanceId);
    expect(
      mine.map((c) => c.result),
      log.slice(-2000),
    ).toEqual(['ABANDON']);
    expect(log).toMatch(/boot failed at line \d+/);
    expect(await unitStates(host, ['haproxy', 'pgbouncer'])).not.toContain('active');
    return log;
  } finally {
    await host.destroy();
  }
}

describe.sequential('a boot that cannot serve ends in ABANDON', () => {
  beforeAll(async () => {
    harness = await BootHarness.start((line) => console.log(`[boot] ${line}`));
    const port = await harness.stack.freeClusterPort();
    const add = await harness.stack.cli([
      'clusters',
      'add',
      CLUSTER,
      '--port',
      String(port),
      '--db',
      `${ALIAS}=app`,
    ]);
    expect(add.code, add.stderr).toBe(0);
    await harness.desiredSha();
    ddb = new DynamoDBClient({ endpoint: harness.stack.ddb.endpoint, region: 'us-east-1' });
  });
  afterAll(async () => {
    ddb?.destroy();
    await harness?.stop();
  });

  it('the agent artifact is missing from the bucket', async () => {
    const log = await brokenBoot('i-0b0070000000a4a1', {
      ARTIFACT_KEY: `${ARTIFACT_KEY}.missing`,
    });
    expect(log).toMatch(/404|Not Found|does not exist/);
  });

  it('the PgBouncer userlist secret does not parse', async () => {
    harness.standins.secrets.set('broken/userlist', '{"postgres": "not a userlist line"}');
    const log = await brokenBoot('i-0b0070000000a4a2', { USERLIST_SECRET: 'broken/userlist' });
    expect(log).toContain('broken/userlist');
    expect(log).not.toContain('not a userlist line');
    expect(harness.standins.secrets.get(USERLIST_SECRET)).toBeDefined();
  });

  it('the probe credentials secret does not parse', async () => {
    harness.standins.secrets.set('broken/probe', 'password=hunter2');
    const log = await brokenBoot('i-0b0070000000a4a3', { PROBE_CREDENTIALS: 'broken/probe' });
    expect(log).toContain('broken/probe');
    expect(log).not.toContain('hunter2');
    expect(harness.standins.secrets.get(PROBE_SECRET)).toBeDefined();
  });

  it('the client TLS certificate secret holds no certificate and key', async () => {
    harness.standins.secrets.set('broken/client-tls', 'not a PEM: private-key-material-7f3a');
    const log = await brokenBoot('i-0b0070000000a4a5', {
      CLIENT_TLS_CERTIFICATE: 'broken/client-tls',
    });
    expect(log).toContain(
      'client TLS certificate broken/client-tls does not hold a PEM certificate followed by its PEM private key',
    );
    expect(log).not.toContain('private-key-material-7f3a');
  });

  it('the client TLS certificate secret does not exist', async () => {
    const log = await brokenBoot('i-0b0070000000a4a6', {
      CLIENT_TLS_CERTIFICATE: 'missing/client-tls',
    });
    expect(log).toContain('client TLS certificate missing/client-tls cannot be read');
  });

  it('the RDS CA bundle is missing, or holds no certificate', async () => {
    const good = harness.standins.downloads.get('rds-ca.pem');
    expect(good).toBeDefined();
    try {
      harness.standins.downloads.delete('rds-ca.pem');
      const missing = await brokenBoot('i-0b0070000000a4a7', {});
      expect(missing).toMatch(/RDS CA bundle cannot be downloaded from \S+\/rds-ca\.pem/);
      harness.standins.downloads.set('rds-ca.pem', Buffer.from('not a certificate\n'));
      const invalid = await brokenBoot('i-0b0070000000a4a8', {});
      expect(invalid).toMatch(/RDS CA bundle from \S+\/rds-ca\.pem holds no PEM certificate/);
    } finally {
      if (good) harness.standins.downloads.set('rds-ca.pem', good);
    }
  });

  it('the desired bundle fails validation (haproxy -c)', async () => {
    const pointer = new DesiredPointerStore(ddb, TABLE_NAME);
    const desired = await pointer.read();
    expect(desired).toBeDefined();
    const { GetItemCommand } = await import('@aws-sdk/client-dynamodb');
    const item = await ddb.send(
      new GetItemCommand({
        TableName: TABLE_NAME,
        Key: marshall(keys.bundle(desired?.sha256 ?? '')),
      }),
    );
    const body = item.Item?.body?.B;
    expect(body).toBeDefined();
    const good: Bundle = decodeBundleBody(body as Uint8Array, desired?.sha256 ?? '');
    const { sha256: _sha, createdAt: _at, ...content } = good;
    const broken = sealBundle(
      {
        ...content,
        files: { ...content.files, haproxy: `${content.files.haproxy}\nnot-a-directive here\n` },
      },
      new Date(),
    );
    await ddb.send(
      new PutItemCommand({ TableName: TABLE_NAME, Item: marshall(encodeBundleItem(broken)) }),
    );
    await pointer.swap(desired?.version, broken.sha256, new Date());

    const log = await brokenBoot('i-0b0070000000a4a4', {});
    expect(log).toContain(broken.sha256);
    expect(log).toMatch(/not-a-directive|haproxy -c|invalid/i);
  });
});
