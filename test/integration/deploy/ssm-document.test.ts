import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { AGENT_RESULT_MAX_CHARS, AgentResultSchema } from '@aurora-haproxy/contract/agent-result';
import { sealBundle } from '@aurora-haproxy/contract/bundle';
import { encodeBundleItem } from '@aurora-haproxy/contract/bundle-item';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type DynamoDbLocal,
  startDynamoDbLocal,
} from '../../../packages/local-stack/dynamodb-local';
import {
  loadCommandDocument,
  PLUGIN_OUTPUT_MAX,
  parseCommandDocument,
  runCommandDocument,
  SsmParameterError,
  STDOUT_CONTENT_MAX,
} from '../../../packages/local-stack/ssm-document-runner';

const run = promisify(execFile);

/**
 * The SSM command document's steps, executed locally with the runner the local stack uses:
 * first against a script (output size, exit code, timeout), then the REAL document against
 * the REAL agent (bundled by scripts/build-agent.mjs, as shipped to hosts) reading a
 * tampered bundle from DynamoDB Local: the sha check must fail, with a non-zero exit code
 * and a one-line result small enough for the SSM console.
 */
let work: string;
let ddb: DynamoDbLocal | undefined;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'aurora-haproxy-ssm-'));
});

afterAll(async () => {
  await ddb?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('the local SSM document runner', () => {
  it('propagates the exit code and truncates output as SSM does', async () => {
    // Prepare: 30,000 characters on stdout, 100 on stderr, exit 3.
    const document = parseCommandDocument(`
schemaVersion: '2.2'
parameters:
  count: { type: String, allowedPattern: '^[0-9]{1,6}$' }
mainSteps:
  - action: aws:runShellScript
    name: noisy
    inputs:
      runCommand:
        - head -c {{ count }} /dev/zero | tr '\\0' 'x'
        - printf 'e%.0s' $(seq 1 100) >&2
        - exit 3
`);
    // Act
    const result = await runCommandDocument(document, { parameters: { count: '30000' } });
    // Assess
    const [step] = result.steps;
    expect(result.status).toBe('Failed');
    expect(result.responseCode).toBe(3);
    expect(step?.stdout.length).toBe(30_000);
    expect(step?.standardOutputContent.length).toBe(STDOUT_CONTENT_MAX);
    expect(step?.standardErrorContent).toBe('e'.repeat(100));
    expect(step?.output.length).toBeLessThanOrEqual(PLUGIN_OUTPUT_MAX);
    expect(step?.output).toContain('---Output truncated---');
    expect(step?.output.endsWith(`----------ERROR-------\n${'e'.repeat(100)}`)).toBe(true);
  });

  it('ends a step that outlives timeoutSeconds, with everything it started', async () => {
    const marker = join(work, 'late-marker');
    const document = parseCommandDocument(`
schemaVersion: '2.2'
mainSteps:
  - action: aws:runShellScript
    name: slow
    inputs:
      timeoutSeconds: 1
      runCommand: ['(sleep 1.5; touch ${marker}) &', 'sleep 30']
`);
    const started = Date.now();
    const result = await runCommandDocument(document, { parameters: {} });
    expect(result.status).toBe('TimedOut');
    expect(Date.now() - started).toBeLessThan(10_000);
    await new Promise((r) => setTimeout(r, 2_000));
    expect(existsSync(marker)).toBe(false);
  });
  it('ends the running step when the run is aborted (CancelCommand)', async () => {
    const document = parseCommandDocument(`
schemaVersion: '2.2'
mainSteps:
  - { action: aws:runShellScript, name: first, inputs: { runCommand: ['sleep 30'] } }
  - { action: aws:runShellScript, name: second, inputs: { runCommand: ['echo never'] } }
`);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    const started = Date.now();
    const result = await runCommandDocument(document, {
      parameters: {},
      signal: controller.signal,
    });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(result.status).toBe('Cancelled');
    expect(result.steps.map((s) => s.status)).toEqual(['Cancelled', 'Skipped']);
  });
});

describe('infra/ssm/apply-bundle.yml run against the real agent', () => {
  const sha = (c: string) => c.repeat(64);
  let agentEnv: NodeJS.ProcessEnv;
  let invokedMarker: string;

  beforeAll(async () => {
    // The agent as hosts get it: one bundled file, behind an `aurora-haproxy-agent` on PATH.
    const bin = join(work, 'bin');
    await mkdir(bin, { recursive: true });
    const bundle = join(work, 'aurora-haproxy-agent.mjs');
    await run(process.execPath, [resolve('scripts/build-agent.mjs'), '--outfile', bundle]);
    invokedMarker = join(work, 'agent-invoked');
    await writeFile(
      join(bin, 'aurora-haproxy-agent'),
      `#!/bin/sh\ntouch ${invokedMarker}\nexec ${process.execPath} ${bundle} "$@"\n`,
    );
    await chmod(join(bin, 'aurora-haproxy-agent'), 0o755);

    ddb = await startDynamoDbLocal({ logDir: work });
    await ddb.createTable('deploy-ssm');
    const config = join(work, 'agent.json');
    await writeFile(
      config,
      JSON.stringify({
        stateDir: join(work, 'state'),
        bundleSource: { tableName: 'deploy-ssm', region: 'us-east-1', endpoint: ddb.endpoint },
      }),
    );
    agentEnv = {
      PATH: `${bin}:${process.env.PATH ?? ''}`,
      AURORA_HAPROXY_AGENT_CONFIG: config,
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      AWS_REGION: 'us-east-1',
    };
  });

  it('has steps a POSIX shell accepts (the SSM Agent runs them with sh)', async () => {
    const document = await loadCommandDocument('infra/ssm/apply-bundle.yml');
    for (const step of document.mainSteps) {
      const script = join(work, `${step.name}.sh`);
      await writeFile(script, step.inputs.runCommand.join('\n'));
      await run('dash', ['-n', script]);
    }
  });

  it('refuses a sha256 that breaks the allowedPattern before running anything', async () => {
    const document = await loadCommandDocument('infra/ssm/apply-bundle.yml');
    await expect(
      runCommandDocument(document, {
        parameters: { sha256: `${sha('a')}; touch ${invokedMarker}` },
        env: agentEnv,
        cwd: work,
      }),
    ).rejects.toThrow(SsmParameterError);
    expect(existsSync(invokedMarker)).toBe(false);
  });

  it('fails with a non-zero exit and one small JSON line when the stored bundle does not hash to its sha', async () => {
    // Prepare: a sealed bundle whose content is changed after sealing, stored under its sha.
    const sealed = sealBundle(
      {
        schema: 1,
        structureSha256: sha('b'),
        files: { haproxy: 'global\n', pgbouncerDatabases: '' },
        clusters: [],
      },
      new Date('2026-01-01T00:00:00Z'),
    );
    const tampered = { ...sealed, files: { ...sealed.files, haproxy: 'global\n  maxconn 1\n' } };
    const client = ddb?.client();
    if (!client) throw new Error('DynamoDB Local did not start');
    await DynamoDBDocumentClient.from(client).send(
      new PutCommand({ TableName: 'deploy-ssm', Item: { ...encodeBundleItem(tampered) } }),
    );
    const document = await loadCommandDocument('infra/ssm/apply-bundle.yml');
    // Act
    const result = await runCommandDocument(document, {
      parameters: { sha256: sealed.sha256 },
      env: agentEnv,
      cwd: work,
    });
    // Assess
    const [step] = result.steps;
    expect(existsSync(invokedMarker)).toBe(true);
    expect(result.status).toBe('Failed');
    expect(result.responseCode).not.toBe(0);
    const lines = (step?.stdout ?? '').trim().split('\n');
    expect(lines).toHaveLength(1);
    expect((lines[0] ?? '').length).toBeLessThanOrEqual(AGENT_RESULT_MAX_CHARS);
    const agentResult = AgentResultSchema.parse(JSON.parse(lines[0] ?? ''));
    expect(agentResult).toMatchObject({ ok: false, sha256: sealed.sha256 });
    expect(agentResult.error).toMatch(/hash/);
    expect(step?.output.length).toBeLessThanOrEqual(PLUGIN_OUTPUT_MAX);
    console.log(
      `[deploy] SSM output for a tampered bundle (${step?.output.length} chars): ${step?.output}`,
    );
    client.destroy();
  });

  it('fails the same way for a sha the table does not hold', async () => {
    const document = await loadCommandDocument('infra/ssm/apply-bundle.yml');
    const result = await runCommandDocument(document, {
      parameters: { sha256: sha('c') },
      env: agentEnv,
      cwd: work,
    });
    expect(result.status).toBe('Failed');
    expect(result.responseCode).not.toBe(0);
    const agentResult = AgentResultSchema.parse(JSON.parse(result.steps[0]?.stdout.trim() ?? ''));
    expect(agentResult.ok).toBe(false);
  });
});
