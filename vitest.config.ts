import { defineConfig } from 'vitest/config';

// Four projects: unit tests run in parallel and touch no network; integration and
// end-to-end tests start real HAProxy, PgBouncer, PostgreSQL and DynamoDB Local
// processes, so they run one file at a time (2 cores; timing assertions such as
// "marked down within 1 s" must not compete with another file's processes).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          sequence: { groupOrder: 0 },
          include: ['test/unit/**/*.test.ts'],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'integration',
          sequence: { groupOrder: 1 },
          include: ['test/integration/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'e2e',
          sequence: { groupOrder: 2 },
          include: ['test/e2e/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 300_000,
          hookTimeout: 180_000,
        },
      },
      {
        // A real systemd as PID 1 in a cached Debian root (packages/local-stack/boot/); root only.
        test: {
          name: 'boot',
          sequence: { groupOrder: 3 },
          include: ['test/boot/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 600_000,
          hookTimeout: 1_500_000,
        },
      },
    ],
  },
});
