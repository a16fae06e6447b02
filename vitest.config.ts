import { defineConfig } from 'vitest/config';

/**
 * Every suite runs twice: once on SQLite, once on PostgreSQL (a fresh
 * database per test file, dropped after). Pure unit tests run once.
 */
export default defineConfig({
  test: {
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: { name: 'sqlite', include: ['test/**/*.test.ts'], env: { OTPD_TEST_DB: 'sqlite' } },
      },
      {
        extends: true,
        test: {
          name: 'postgres',
          include: ['test/**/*.test.ts'],
          exclude: ['test/unit/**'],
          env: { OTPD_TEST_DB: 'postgres' },
        },
      },
    ],
  },
});
