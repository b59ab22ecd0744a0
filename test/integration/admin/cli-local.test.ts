import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { useDynamoDbLocal } from '@aurora-haproxy/test-support/dynamodb-local';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../../functions/cli/main';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '../../..');

/**
 * The CLI's --local path end to end: the admin core in process, real SDK clients pointed at
 * DynamoDB Local through AWS_ENDPOINT_URL_DYNAMODB, as the local stack's demo uses it.
 */
describe('aurora-haproxy --local against DynamoDB Local', () => {
  let env: NodeJS.ProcessEnv;

  const ddb = useDynamoDbLocal('admin-cli');
  beforeAll(async () => {
    env = {
      TABLE_NAME: 'admin-cli',
      AWS_ENDPOINT_URL_DYNAMODB: ddb().endpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
    };
  });

  const cli = async (...argv: string[]) => {
    const out = { stdout: '', stderr: '' };
    const code = await runCli(['--local', ...argv], {
      env,
      stdout: { write: (t: string) => (out.stdout += t) },
      stderr: { write: (t: string) => (out.stderr += t) },
      localOverrides: { triggerReconcile: async () => {} },
    });
    return { code, ...out };
  };

  it('adds, rejects a port clash, updates, lists and removes through the real store', async () => {
    // Act
    const added = await cli(
      'clusters',
      'add',
      'orders',
      '--port',
      '15432',
      '--db',
      'orders',
      '--force',
    );
    const clash = await cli(
      'clusters',
      'add',
      'billing',
      '--port',
      '15432',
      '--db',
      'billing',
      '--force',
    );
    const updated = await cli(
      'clusters',
      'update',
      'orders',
      '--version',
      '1',
      '--balance',
      'random',
    );
    const stale = await cli('clusters', 'update', 'orders', '--version', '1', '--port', '15433');
    const listed = await cli('--json', 'clusters', 'list');
    const removed = await cli('clusters', 'remove', 'orders');
    const reused = await cli(
      'clusters',
      'add',
      'billing',
      '--port',
      '15432',
      '--db',
      'orders',
      '--force',
    );

    // Assess
    expect(added).toMatchObject({ code: 0, stderr: '' });
    expect(clash).toEqual({
      code: 1,
      stdout: '',
      stderr: 'error [PORT_TAKEN]: port: 15432 is already used by cluster orders\n',
    });
    expect(updated.code).toBe(0);
    expect(updated.stdout).toContain('balance    random\n');
    expect(stale.code).toBe(1);
    expect(stale.stderr).toContain('VERSION_CONFLICT');
    expect(JSON.parse(listed.stdout).clusters).toEqual([
      expect.objectContaining({ clusterId: 'orders', port: 15432, version: 2 }),
    ]);
    expect(removed.code).toBe(0);
    expect(reused.code).toBe(0);
  });

  it('status reads the orchestrator state from the same table', async () => {
    // Act
    const status = await cli('clusters', 'status');
    const json = await cli('--json', 'clusters', 'status');

    // Assess
    expect(status.code).toBe(0);
    expect(status.stdout).toContain('desired: -\n');
    expect(status.stdout).toMatch(/CLUSTERID\s+TOPOLOGY\n\s+billing\s+unknown/);
    expect(JSON.parse(json.stdout).status).toMatchObject({
      desired: null,
      instances: [],
      clusters: [{ clusterId: 'billing', topology: 'unknown' }],
    });
  });

  it('reports a missing TABLE_NAME as CONFIG_INVALID', async () => {
    // Act
    const out = { stderr: '' };
    const code = await runCli(['--local', 'clusters', 'list'], {
      env: { ...env, TABLE_NAME: undefined },
      stdout: { write: () => {} },
      stderr: { write: (t: string) => (out.stderr += t) },
    });

    // Assess
    expect(code).toBe(1);
    expect(out.stderr).toBe('error [CONFIG_INVALID]: TABLE_NAME is not set\n');
  });

  it('runs from the bin launcher with the exit code of the request', async () => {
    // Act
    const run = (...argv: string[]) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
        const child = spawn(process.execPath, [join(repoRoot, 'bin/aurora-haproxy.js'), ...argv], {
          env: { ...process.env, ...env },
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d) => (stdout += d));
        child.stderr.on('data', (d) => (stderr += d));
        child.on('error', reject);
        child.on('close', (code) => resolve({ code, stdout, stderr }));
      });
    const ok = await run('--local', '--json', 'clusters', 'get', 'billing');
    const missing = await run('--local', 'clusters', 'get', 'nobody');

    // Assess
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ ok: true, cluster: { clusterId: 'billing' } });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(
      'error [CLUSTER_NOT_FOUND]: clusterId: nobody is not registered',
    );
  });
});
