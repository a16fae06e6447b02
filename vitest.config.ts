import { defineConfig } from 'vitest/config';

/**
 * Every suite runs twice: once on SQLite, once on PostgreSQL (a fresh
 * database per test file, dropped after). Pure unit tests run once, and so
 * do the SDK's (packages/client), which only speak HTTP to an otpd process.
 */
export default defineConfig({
  test: {
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'sqlite',
          // The SDK's tests talk to an otpd process over HTTP: one backend is enough for them.
          include: ['test/**/*.test.ts', 'packages/client/test/**/*.test.ts'],
          env: { OTPD_TEST_DB: 'sqlite' },
        },
      },
      {
        extends: true,
        test: {
          name: 'postgres',
          include: ['test/**/*.test.ts'],
          // Browser and docs-snippet tests drive one otpd process end to end: one backend is enough for them.
          exclude: ['test/unit/**', 'test/e2e/**', 'test/docs/**'],
          env: { OTPD_TEST_DB: 'postgres' },
        },
      },
    ],
  },
});
