import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseBundle } from '@aurora-haproxy/contract/bundle';
import { describe, expect, it } from 'vitest';
import { renderBundle } from '../../../functions/render/render-bundle';
import { haproxyCheck } from '../../support/haproxy-check';
import { FIXED_NOW } from '../../unit/render/fixtures';
import { SCENARIOS } from './scenarios';

/**
 * Golden configs: each scenario's rendered files must equal the committed ones byte for
 * byte (UPDATE_GOLDEN=1 rewrites them), and every golden HAProxy config must pass the real
 * `haproxy -c` with the HOST_ENV variables set.
 */
const GOLDEN_DIR = join(dirname(fileURLToPath(import.meta.url)), 'golden');
const UPDATE = process.env.UPDATE_GOLDEN === '1';

/** haproxy -c warnings that a valid golden may produce. */
// None: haproxyCheck sets the host nameserver, so names are not resolved during the check
// (they used to be, through the machine's resolver: "could not resolve address" warnings).
const ACCEPTED_WARNINGS: RegExp[] = [];

function golden(file: string, actual: string): string {
  const path = join(GOLDEN_DIR, file);
  if (UPDATE) {
    mkdirSync(GOLDEN_DIR, { recursive: true });
    writeFileSync(path, actual);
  }
  return readFileSync(path, 'utf8');
}

describe.each(SCENARIOS)('golden $name ($what)', (scenario) => {
  const bundle = renderBundle(scenario.input(), FIXED_NOW);

  it('renders the committed HAProxy config, PgBouncer include and bundle byte for byte', () => {
    // Act
    const haproxy = golden(`${scenario.name}.haproxy.cfg`, bundle.files.haproxy);
    const pgbouncer = golden(
      `${scenario.name}.pgbouncer-databases.ini`,
      bundle.files.pgbouncerDatabases,
    );
    const bundleJson = golden(
      `${scenario.name}.bundle.json`,
      `${JSON.stringify(bundle, null, 2)}\n`,
    );
    // Assess
    expect(bundle.files.haproxy).toBe(haproxy);
    expect(bundle.files.pgbouncerDatabases).toBe(pgbouncer);
    expect(parseBundle(bundleJson).sha256).toBe(bundle.sha256);
  });

  it('passes the real haproxy -c', async () => {
    // Prepare
    const config = readFileSync(join(GOLDEN_DIR, `${scenario.name}.haproxy.cfg`), 'utf8');
    // Act: as a host of no zone and of eu-west-1a (HAProxy skips a false `.if` branch).
    const results = await Promise.all(
      ['', 'eu-west-1a'].map((zone) => haproxyCheck(config, { AURORA_HAPROXY_AZ: zone })),
    );
    // Assess
    for (const result of results) {
      expect(result.ok, result.output).toBe(true);
      const unexpected = result.problems.filter((p) => !ACCEPTED_WARNINGS.some((w) => w.test(p)));
      expect(unexpected, result.output).toEqual([]);
    }
  });
});

describe('haproxyCheck', () => {
  it('reports an invalid config as not ok, with haproxy output', async () => {
    // Act
    const result = await haproxyCheck('listen x\n    bind 127.0.0.1:1\n    bogus-keyword\n');
    // Assess
    expect(result.ok).toBe(false);
    expect(result.output).toMatch(/bogus-keyword/);
  });
});
