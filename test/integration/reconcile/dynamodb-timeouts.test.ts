import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RecordingMetrics } from '@aurora-haproxy/test-support/recording';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBundleSource } from '../../../agent/apply/deps';
import { BundleSourceError } from '../../../agent/bundle-source/errors';
import { loadAgentConfig } from '../../../agent/config';
import { createAutoScalingClient, createSsmClient } from '../../../functions/delivery/clients';
import { reconcile } from '../../../functions/reconcile/reconcile';
import { reconcileDeps } from '../../../functions/reconcile/wiring';
import { createDynamoDbClient, DYNAMODB_TIMEOUTS } from '../../../functions/shared/dynamodb-client';
import { silentLog } from '../../../functions/shared/observability';
import { DesiredPointerStore } from '../../../functions/state/desired-pointer';
import { StateStoreError } from '../../../functions/state/errors';
import { createRdsClient } from '../../../functions/topology/rds-client';

/**
 * Issue 10.6: a DynamoDB table that accepts connections and never answers. Every call of the
 * Lambdas and of the agent must end with an error (never hang), and the agent must still
 * print its one JSON result line. The server is a plain TCP listener on 127.0.0.x that
 * accepts and reads, and never writes a byte.
 */
const CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };
/** Far above every bound under test: reaching it means "hangs". */
const HANG_MS = 60_000;
let server: Server;
let endpoint: string;
const sockets = new Set<Socket>();
let dir: string;

/** Settles with the outcome and how long it took, or fails the test if it hangs. */
async function bounded<T>(what: string, run: () => Promise<T>) {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what} still hanging after ${HANG_MS} ms`)),
      HANG_MS,
    );
  });
  try {
    const outcome = await Promise.race([
      run().then(
        (value) => ({ ok: true as const, value }),
        (error: unknown) => ({ ok: false as const, error }),
      ),
      hang,
    ]);
    const ms = Math.round(performance.now() - started);
    console.log(`${what}: settled after ${ms} ms`);
    return { ...outcome, ms };
  } finally {
    clearTimeout(timer);
  }
}

beforeAll(async () => {
  server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined); // the SDK gives up by resetting: that is the point
    socket.on('data', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no address');
  endpoint = `http://127.0.0.1:${address.port}`;
  dir = mkdtempSync(join(tmpdir(), 'ah-ddb-hang-'));
});
afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise((resolve) => server?.close(resolve));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('DynamoDB that never answers', () => {
  it('a Lambda store call fails with StateStoreError instead of hanging', async () => {
    // Prepare
    const client = createDynamoDbClient({
      endpoint,
      region: 'us-east-1',
      credentials: CREDENTIALS,
    });

    // Act
    const outcome = await bounded('DesiredPointerStore.read', () =>
      new DesiredPointerStore(client, 'hung').read(),
    );

    // Assess
    expect(outcome.ok).toBe(false);
    expect(!outcome.ok && outcome.error).toBeInstanceOf(StateStoreError);
    expect(outcome.ms).toBeLessThan(HANG_MS);
    client.destroy();
  });

  it('a whole reconcile fails instead of hanging (the handler wiring, every store)', async () => {
    // Prepare: the reconcile handler's clients, DynamoDB pointed at the silent server
    const dynamodb = createDynamoDbClient({
      endpoint,
      region: 'us-east-1',
      credentials: CREDENTIALS,
    });
    const config = {
      region: 'us-east-1',
      credentials: CREDENTIALS,
      endpoint: 'http://127.0.0.1:9',
    };
    const deps = reconcileDeps(
      {
        dynamodb,
        rds: createRdsClient(config),
        ssm: createSsmClient(config),
        autoScaling: createAutoScalingClient(config),
      },
      { TABLE_NAME: 'hung', FLEET_ASG_NAME: 'fleet', SSM_DOCUMENT_NAME: 'doc' },
      silentLog,
      new RecordingMetrics(),
    );

    // Act
    const outcome = await bounded('reconcile', () => reconcile(deps, { kind: 'schedule' }));

    // Assess
    expect(outcome.ok).toBe(false);
    expect(!outcome.ok && (outcome.error as Error).message).toMatch(/failed/);
    dynamodb.destroy();
  });

  it('the agent bundle source fails with BundleSourceError instead of hanging', async () => {
    // Prepare: the agent's own client (agent/apply/deps.ts) from a config naming the server
    const path = join(dir, 'agent.json');
    writeFileSync(
      path,
      JSON.stringify({
        stateDir: dir,
        bundleSource: { tableName: 'hung-table', endpoint, region: 'us-east-1' },
        health: { user: 'postgres', database: 'postgres' },
      }),
    );
    process.env.AWS_ACCESS_KEY_ID ??= 'local';
    process.env.AWS_SECRET_ACCESS_KEY ??= 'local';

    // Act
    const outcome = await bounded('agent getDesired', () =>
      createBundleSource(loadAgentConfig(path)).getDesired(),
    );

    // Assess
    expect(outcome.ok).toBe(false);
    expect(!outcome.ok && outcome.error).toBeInstanceOf(BundleSourceError);
  });

  it('`agent sync` prints its one JSON result line and exits 1', async () => {
    // Prepare
    const path = join(dir, 'agent-cli.json');
    writeFileSync(
      path,
      JSON.stringify({
        stateDir: dir,
        bundleSource: { tableName: 'hung-table', endpoint, region: 'us-east-1' },
        health: { user: 'postgres', database: 'postgres' },
      }),
    );

    // Act
    const outcome = await bounded(
      'agent sync',
      () =>
        new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
          execFile(
            process.execPath,
            ['--import', 'tsx', 'agent/cli.ts', '--config', path, 'sync'],
            {
              env: { ...process.env, AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local' },
              timeout: HANG_MS,
            },
            (error, stdout, stderr) =>
              resolve({ code: error ? ((error.code as number) ?? null) : 0, stdout, stderr }),
          );
        }),
    );

    // Assess
    expect(outcome.ok).toBe(true);
    const run = outcome.ok ? outcome.value : undefined;
    const lines = (run?.stdout ?? '').trim().split('\n');
    expect(lines, run?.stderr).toHaveLength(1);
    const result = JSON.parse(lines[0] as string);
    expect(result).toMatchObject({ ok: false, action: 'unchanged' });
    expect(result.error).toMatch(/no answer within|requestTimeout/);
    expect(run?.code).toBe(1);
  });

  it('bounds are what the docs say', () => {
    expect(DYNAMODB_TIMEOUTS).toEqual({
      connectionTimeoutMs: 1_000,
      requestTimeoutMs: 2_000,
      maxAttempts: 3,
      callDeadlineMs: 8_000,
    });
  });
});
