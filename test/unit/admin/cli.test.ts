import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { RDSClient } from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { runAdmin } from '../../../functions/admin/admin';
import { lambdaAdminInvoker } from '../../../functions/cli/invoke';
import { runCli } from '../../../functions/cli/main';
import { DEFAULT_RESERVED } from '../../../functions/registry/validate';
import { silentLog } from '../../../functions/shared/observability';
import { FakeRegistry } from './fake-registry';

const lambdaMock = mockClient(LambdaClient);

/** Runs the CLI on the admin core with a fake registry; captures output and requests. */
function harness(status: unknown = {}) {
  const registry = new FakeRegistry();
  const requests: Record<string, unknown>[] = [];
  const out = { stdout: '', stderr: '' };
  const deps = {
    registry,
    rds: new RDSClient({}),
    triggerReconcile: async () => {},
    readStatus: async () => status,
    reservedPorts: DEFAULT_RESERVED,
    log: silentLog,
  };
  const run = async (...argv: string[]) => {
    out.stdout = '';
    out.stderr = '';
    const code = await runCli(argv, {
      stdout: { write: (t: string) => (out.stdout += t) },
      stderr: { write: (t: string) => (out.stderr += t) },
      env: {},
      admin: (request) => {
        requests.push(request);
        return runAdmin(request, deps);
      },
    });
    return code;
  };
  return { registry, requests, out, run };
}

describe('aurora-haproxy CLI', () => {
  it('adds a cluster from flags and prints it', async () => {
    // Prepare
    const { run, out, requests } = harness();

    // Act
    const code = await run(
      'clusters',
      'add',
      'Orders-Prod',
      '--port',
      '15432',
      '--db',
      'orders',
      '--db',
      'reporting=orders_ro',
      '--max-replica-lag-ms',
      '2000',
      '--fallback-to-writer',
      '--force',
    );

    // Assess
    expect(code).toBe(0);
    expect(requests[0]).toEqual({
      action: 'add',
      clusterId: 'Orders-Prod',
      port: 15432,
      databases: [
        { alias: 'orders', dbname: 'orders' },
        { alias: 'reporting', dbname: 'orders_ro' },
      ],
      options: { maxReplicaLagMs: 2000, fallbackToWriter: true },
      force: true,
    });
    expect(out.stdout).toContain('cluster    orders-prod\n');
    expect(out.stdout).toContain('databases  orders,reporting=orders_ro\n');
    expect(out.stdout).toContain('max lag    2000 ms\n');
    expect(out.stdout).toContain('fallback   writer as backup\n');
    expect(out.stdout).toMatch(/reconcile requested\n$/);
    expect(out.stderr).toBe('');
  });

  it('lists clusters as a table', async () => {
    // Prepare
    const { run, out } = harness();
    await run('clusters', 'add', 'b-cluster', '--port', '15433', '--db', 'b', '--force');
    await run('clusters', 'add', 'a-cluster', '--port', '15432', '--db', 'a=app', '--force');

    // Act
    const code = await run('clusters', 'list');

    // Assess
    expect(code).toBe(0);
    expect(out.stdout).toBe(
      [
        'CLUSTER    PORT   DATABASES  BALANCE    CHECK      FALLBACK  VERSION',
        'a-cluster  15432  a=app      leastconn  tcp-check  no        1',
        'b-cluster  15433  b          leastconn  tcp-check  no        1',
        '',
      ].join('\n'),
    );
  });

  it('prints the AdminResult with --json', async () => {
    // Prepare
    const { run, out } = harness();

    // Act
    const code = await run('--json', 'clusters', 'list');

    // Assess
    expect(code).toBe(0);
    expect(JSON.parse(out.stdout)).toEqual({ ok: true, action: 'list', clusters: [] });
  });

  it('exits 1 with the error code and every invalid field, storing nothing', async () => {
    // Prepare
    const { run, out, registry } = harness();

    // Act
    const code = await run(
      'clusters',
      'add',
      'bad--id',
      '--port',
      '6432',
      '--db',
      'my db=x',
      '--force',
    );

    // Assess
    expect(code).toBe(1);
    expect(out.stdout).toBe('');
    expect(out.stderr).toBe(
      [
        'error [VALIDATION_FAILED]:',
        '  clusterId: must follow RDS identifier rules: letter first; letters, digits and hyphens; at most 63; no "--"; no trailing "-"',
        '  port: 6432 is reserved for pgbouncer',
        '  databases.0.alias: must match ^[a-z_][a-z0-9_]{0,62}$',
        '',
      ].join('\n'),
    );
    expect(registry.calls).toEqual([]);
  });

  it('exits 1 with --json too, printing the failure as JSON', async () => {
    // Prepare
    const { run, out } = harness();

    // Act
    const code = await run('--json', 'clusters', 'get', 'ghost');

    // Assess
    expect(code).toBe(1);
    expect(JSON.parse(out.stdout)).toEqual({
      ok: false,
      error: { code: 'CLUSTER_NOT_FOUND', message: 'clusterId: ghost is not registered' },
    });
  });

  it('passes a non-numeric port on, so the admin core names it', async () => {
    // Prepare
    const { run, out } = harness();

    // Act
    const code = await run('clusters', 'add', 'x', '--port', '15432abc', '--db', 'x', '--force');

    // Assess
    expect(code).toBe(1);
    expect(out.stderr).toContain('  port: Invalid input: expected number, received string');
  });

  it('update sends only the flags given, including --no-fallback-to-writer', async () => {
    // Prepare
    const { run, out, requests } = harness();
    await run(
      'clusters',
      'add',
      'x',
      '--port',
      '15432',
      '--db',
      'x',
      '--fallback-to-writer',
      '--force',
    );

    // Act
    const code = await run('clusters', 'update', 'x', '--version', '1', '--no-fallback-to-writer');

    // Assess
    expect(code).toBe(0);
    expect(requests[1]).toEqual({
      action: 'update',
      clusterId: 'x',
      version: 1,
      options: { fallbackToWriter: false },
    });
    expect(out.stdout).toContain('fallback   no\n');
    expect(out.stdout).toContain('version    2\n');
  });

  it('add sends --az-affinity, update turns it off with --no-az-affinity', async () => {
    // Prepare
    const { run, out, requests } = harness();
    await run('clusters', 'add', 'x', '--port', '15432', '--db', 'x', '--az-affinity', '--force');
    expect(requests[0]).toMatchObject({ options: { azAffinity: true } });
    expect(out.stdout).toContain('affinity   own AZ first\n');

    // Act
    const code = await run('clusters', 'update', 'x', '--version', '1', '--no-az-affinity');

    // Assess
    expect(code).toBe(0);
    expect(requests[1]).toEqual({
      action: 'update',
      clusterId: 'x',
      version: 1,
      options: { azAffinity: false },
    });
    expect(out.stdout).toContain('affinity   no\n');
  });

  it('sets a writer endpoint with --writer-alias/--writer-port and removes it with --no-writer', async () => {
    // Prepare
    const { run, out, requests } = harness();

    // Act
    const added = await run(
      'clusters',
      'add',
      'x',
      '--port',
      '15432',
      '--db',
      'x=app',
      '--writer-alias',
      'x_rw=app',
      '--writer-port',
      '15433',
      '--force',
    );
    const addedOut = out.stdout;
    const clash = await run(
      'clusters',
      'update',
      'x',
      '--version',
      '1',
      '--writer-alias',
      'x=app',
      '--writer-port',
      '15434',
    );
    const clashErr = out.stderr;
    const removed = await run('clusters', 'update', 'x', '--version', '1', '--no-writer');

    // Assess
    expect(added).toBe(0);
    expect(requests[0]).toMatchObject({
      options: { writer: { alias: 'x_rw', dbname: 'app', port: 15433 } },
    });
    expect(addedOut).toContain('writer     x_rw=app on port 15433, pool transaction\n');
    expect(clash).toBe(1);
    expect(clashErr).toContain('options.writer.alias: "x" is also a reader alias of this cluster');
    expect(removed).toBe(0);
    expect(requests.at(-1)).toEqual({
      action: 'update',
      clusterId: 'x',
      version: 1,
      options: { writer: null },
    });
    expect(out.stdout).toContain('writer     no endpoint\n');
  });

  it('remove prints what was removed; a stale version exits 1', async () => {
    // Prepare
    const { run, out } = harness();
    await run('clusters', 'add', 'x', '--port', '15432', '--db', 'x', '--force');

    // Act
    const stale = await run('clusters', 'remove', 'x', '--version', '4');
    const staleErr = out.stderr;
    const removed = await run('clusters', 'remove', 'x');

    // Assess
    expect(stale).toBe(1);
    expect(staleErr).toBe(
      'error [VERSION_CONFLICT]: version: x is at version 1, not 4; read it again and retry\n',
    );
    expect(removed).toBe(0);
    expect(out.stdout).toBe('removed x (port 15432, aliases x)\nreconcile requested\n');
  });

  it('prints status as key/value lines and tables', async () => {
    // Prepare
    const { run, out } = harness({
      desiredSha256: 'abc',
      instances: [
        { instanceId: 'i-1', appliedSha256: 'abc', drift: false },
        { instanceId: 'i-22', appliedSha256: 'old', drift: true },
      ],
      staleTopologies: [],
    });

    // Act
    const code = await run('clusters', 'status');

    // Assess
    expect(code).toBe(0);
    expect(out.stdout).toBe(
      [
        'desiredSha256: abc',
        'instances:',
        '  INSTANCEID  APPLIEDSHA256  DRIFT',
        '  i-1         abc            false',
        '  i-22        old            true',
        'staleTopologies: -',
        '',
      ].join('\n'),
    );
  });

  it('reconcile requests a run', async () => {
    const { run, out, requests } = harness();
    expect(await run('reconcile')).toBe(0);
    expect(requests).toEqual([{ action: 'reconcile-now' }]);
    expect(out.stdout).toBe('reconcile requested\n');
  });

  it('exits 2 on bad usage or with no way to reach the admin function', async () => {
    // Prepare
    const { run, out } = harness();

    // Act
    const missingPort = await run('clusters', 'add', 'x', '--db', 'x');
    const usageErr = out.stderr;
    const noTarget = await runCli(['clusters', 'list'], {
      stdout: { write: () => {} },
      stderr: { write: (t: string) => (out.stderr = t) },
      env: {},
    });

    // Assess
    expect(missingPort).toBe(2);
    expect(usageErr).toContain("required option '--port <port>' not specified");
    expect(noTarget).toBe(2);
    expect(out.stderr).toContain('no admin function');
  });
});

describe('admin Lambda invoker', () => {
  beforeEach(() => lambdaMock.reset());

  it('invokes RequestResponse with the request and answers the result', async () => {
    // Prepare
    const answer = { ok: true, action: 'list', clusters: [] };
    lambdaMock.on(InvokeCommand).resolves({
      StatusCode: 200,
      Payload: new TextEncoder().encode(JSON.stringify(answer)) as never,
    });
    const invoke = lambdaAdminInvoker(new LambdaClient({}), 'aurora-haproxy-admin');

    // Act
    const result = await invoke({ action: 'list' });

    // Assess
    expect(result).toEqual(answer);
    const input = lambdaMock.commandCalls(InvokeCommand)[0]?.args[0].input;
    expect(input?.InvocationType).toBe('RequestResponse');
    expect(JSON.parse(new TextDecoder().decode(input?.Payload as Uint8Array))).toEqual({
      action: 'list',
    });
  });

  it('turns a function error, a bad answer and an invoke failure into typed failures', async () => {
    // Prepare
    const invoke = lambdaAdminInvoker(new LambdaClient({ maxAttempts: 1 }), 'fn');
    const payload = (value: unknown) => new TextEncoder().encode(JSON.stringify(value)) as never;

    lambdaMock
      .on(InvokeCommand)
      .resolvesOnce({
        StatusCode: 200,
        FunctionError: 'Unhandled',
        Payload: payload({ errorType: 'Runtime.ImportModuleError', errorMessage: 'no module' }),
      })
      .resolvesOnce({ StatusCode: 200, Payload: payload([1, 2]) })
      .rejectsOnce(
        Object.assign(new Error('Function not found'), { name: 'ResourceNotFoundException' }),
      );

    // Act
    const functionError = await invoke({ action: 'list' });
    const badShape = await invoke({ action: 'list' });
    const unreachable = await invoke({ action: 'list' });

    // Assess
    expect(functionError).toEqual({
      ok: false,
      error: {
        code: 'ADMIN_FUNCTION_FAILED',
        message: 'fn failed: Runtime.ImportModuleError: no module',
      },
    });
    expect(badShape).toMatchObject({ ok: false, error: { code: 'ADMIN_BAD_RESPONSE' } });
    expect(unreachable).toEqual({
      ok: false,
      error: {
        code: 'ADMIN_UNREACHABLE',
        message: 'could not invoke fn: ResourceNotFoundException: Function not found',
      },
    });
  });
});
