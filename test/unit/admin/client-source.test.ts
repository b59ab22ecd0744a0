import { describe, expect, it } from 'vitest';
import { clientOf, loadOnce } from '../../../functions/admin/client-source';

describe('client sources', () => {
  it('a loader runs once, and again after a failed load', async () => {
    // Prepare
    let calls = 0;
    const load = loadOnce(async () => {
      calls += 1;
      if (calls === 1) throw new Error('first load fails');
      return { n: calls };
    });
    // Act / Assess
    await expect(clientOf(load)).rejects.toThrow('first load fails');
    expect(await clientOf(load)).toEqual({ n: 2 });
    expect(await clientOf(load)).toEqual({ n: 2 });
    expect(calls).toBe(2);
  });

  it('a client given as is is answered as is', async () => {
    const client = { send: () => undefined };
    expect(await clientOf(client)).toBe(client);
  });
});
