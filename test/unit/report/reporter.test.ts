import type { HostReport } from '@aurora-haproxy/contract/host-report';
import { RecordingLog } from '@aurora-haproxy/test-support/recording';
import { describe, expect, it } from 'vitest';
import { HostReporter } from '../../../agent/report/reporter';
import { report, slot } from './fixtures';

describe('HostReporter', () => {
  it('writes on a state change at once, and otherwise only at the heartbeat', async () => {
    // Prepare
    let now = 0;
    let current = report();
    const written: HostReport[] = [];
    const reporter = new HostReporter(
      {
        collect: async () => current,
        write: async (r) => {
          written.push(r);
        },
        log: new RecordingLog(),
        now: () => now,
      },
      { sampleMs: 1000, minWriteMs: 1000, heartbeatMs: 5000 },
    );
    // Act: samples every second for 12 s; r01 goes DOWN at 7 s
    for (; now <= 12_000; now += 1000) {
      if (now === 7000) {
        current = report({
          clusters: [
            { clusterId: 'orders', backend: 'aurora-orders', slots: [slot({ state: 'DOWN' })] },
          ],
        });
      }
      await reporter.tick();
    }
    // Assess: 0 s (first), 5 s (heartbeat), 7 s (change), 12 s (heartbeat)
    expect(written).toHaveLength(4);
    expect(reporter.writes).toBe(4);
    expect(written[2]?.clusters[0]?.slots[0]?.state).toBe('DOWN');
  });

  it('retries a failing table at the bounded rate and logs the fault once', async () => {
    // Prepare
    let now = 0;
    let attempts = 0;
    const log = new RecordingLog();
    const reporter = new HostReporter(
      {
        collect: async () => report(),
        write: async () => {
          attempts++;
          throw new Error('ProvisionedThroughputExceededException');
        },
        log,
        now: () => now,
      },
      { sampleMs: 200, minWriteMs: 1000, heartbeatMs: 5000 },
    );
    // Act: 10 s of samples every 200 ms
    for (; now < 10_000; now += 200) await reporter.tick();
    // Assess
    expect(attempts).toBe(10);
    expect(log.messages('warn')).toEqual(['writing the host report failed']);
  });
});
