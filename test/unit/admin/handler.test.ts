import { RDSClient } from '@aws-sdk/client-rds';
import { describe, expect, it } from 'vitest';
import { adminEvent, createAdminHandler } from '../../../functions/handlers/admin';
import { RegistryConfigError } from '../../../functions/registry/errors';
import { DEFAULT_RESERVED } from '../../../functions/registry/validate';
import { silentLog } from '../../../functions/shared/observability';
import { FakeRegistry } from './fake-registry';

describe('admin handler', () => {
  it('answers CONFIG_INVALID when the function is misconfigured', async () => {
    // Prepare
    const handler = createAdminHandler(() => {
      throw new RegistryConfigError('TABLE_NAME is not set');
    });

    // Act
    const result = await handler({ action: 'list' });

    // Assess
    expect(result).toEqual({
      ok: false,
      error: { code: 'CONFIG_INVALID', message: 'TABLE_NAME is not set' },
    });
  });

  it('runs the request on the injected dependencies', async () => {
    // Prepare
    const registry = new FakeRegistry();
    const handler = createAdminHandler(() => ({
      registry,
      rds: new RDSClient({}),
      triggerReconcile: async () => {},
      readStatus: async () => ({}),
      reservedPorts: DEFAULT_RESERVED,
      log: silentLog,
    }));

    // Act
    const result = await handler({ action: 'list' });

    // Assess
    expect(result).toEqual({ ok: true, action: 'list', clusters: [] });
    expect(registry.calls.map((c) => c.method)).toEqual(['list']);
  });

  it('the Lambda entry reads TABLE_NAME and answers CONFIG_INVALID without it', async () => {
    // Prepare
    const saved = process.env.TABLE_NAME;
    delete process.env.TABLE_NAME;

    // Act
    const result = await adminEvent({ action: 'list' });

    // Assess
    expect(result).toEqual({
      ok: false,
      error: { code: 'CONFIG_INVALID', message: 'TABLE_NAME is not set' },
    });
    if (saved !== undefined) process.env.TABLE_NAME = saved;
  });
});
