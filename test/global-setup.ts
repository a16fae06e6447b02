import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { TestProject } from 'vitest/node';

export const ADMIN_URL = process.env.OTPD_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

declare module 'vitest' {
  export interface ProvidedContext {
    runId: string;
  }
}

/** Names this run's databases, and drops whatever of them is left at the end. */
export default function setup(project: TestProject) {
  const runId = `otpd_t_${randomBytes(4).toString('hex')}`;
  project.provide('runId', runId);
  return async () => {
    const client = new pg.Client({ connectionString: ADMIN_URL });
    try {
      await client.connect();
      const { rows } = await client.query<{ datname: string }>(
        'select datname from pg_database where datname like $1',
        [`${runId}%`],
      );
      for (const { datname } of rows) await client.query(`drop database if exists "${datname}" with (force)`);
    } catch {
      // No PostgreSQL (a SQLite-only run): nothing to clean.
    } finally {
      await client.end().catch(() => {});
    }
  };
}
