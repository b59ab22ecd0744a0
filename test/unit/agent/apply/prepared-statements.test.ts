import { describe, expect, it } from 'vitest';
import { unmetPreparedStatements } from '../../../../agent/apply/versions';
import { bundleOf, cluster } from './fixtures';

const A = [{ id: 'db-a', address: '10.0.0.1', port: 5432 }];
const asking = (n: number) =>
  bundleOf(A, {
    registry: cluster({ options: { poolMode: 'transaction', maxPreparedStatements: n } }),
  });
const v124 = { pgbouncer: '1.24.1' };

describe("unmetPreparedStatements (the host's max_prepared_statements against the clusters')", () => {
  it('passes when no cluster asks, without asking PgBouncer', async () => {
    // Prepare
    let asked = 0;
    // Act
    const problem = await unmetPreparedStatements(bundleOf(A), v124, async () => {
      asked += 1;
      return '0';
    });
    // Assess
    expect(problem).toBeUndefined();
    expect(asked).toBe(0);
  });

  it("passes when the host's setting covers the largest asked, refuses naming both numbers when not", async () => {
    // Act
    const covered = await unmetPreparedStatements(asking(200), v124, async () => '200');
    const short = await unmetPreparedStatements(asking(300), v124, async () => '200');
    const off = await unmetPreparedStatements(asking(1), { pgbouncer: '1.21.0' }, async () => '0');
    // Assess
    expect(covered).toBeUndefined();
    expect(short).toBe(
      "cluster orders needs max_prepared_statements >= 300; this host's PgBouncer has 200: raise it in pgbouncer.ini; nothing changed",
    );
    expect(off).toMatch(/needs max_prepared_statements >= 1; this host's PgBouncer has 0:/);
  });

  it("uses the version's default when PgBouncer does not answer (boot sync): 200 from 1.24, 0 before", async () => {
    // Prepare
    const down = async () => {
      throw new Error('connect ECONNREFUSED');
    };
    // Act
    const new124 = await unmetPreparedStatements(asking(150), v124, down);
    const old123 = await unmetPreparedStatements(asking(150), { pgbouncer: '1.23.1' }, down);
    // Assess
    expect(new124).toBeUndefined();
    expect(old123).toBe(
      "cluster orders needs max_prepared_statements >= 150; this host's PgBouncer has 0 (its default; it did not answer SHOW CONFIG): raise it in pgbouncer.ini; nothing changed",
    );
  });
});
