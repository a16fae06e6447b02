import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { openStore } from '../../src/store/db.js';
import { insertAccount, listAccounts } from '../../src/store/tenancy.js';
import { backend } from '../harness.js';

const PG_ADMIN = process.env.OTPD_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

describe.skipIf(backend !== 'postgres')('id ordering on PostgreSQL', () => {
  it('pages by id bytewise even in a database whose collation is English', async () => {
    const name = `${inject('runId')}_icu_${randomBytes(3).toString('hex')}`;
    const admin = new pg.Client({ connectionString: PG_ADMIN });
    await admin.connect();
    await admin.query(`create database "${name}" locale_provider icu icu_locale 'en' template template0`);
    afterAll(async () => {
      await admin.query(`drop database if exists "${name}" with (force)`);
      await admin.end();
    });
    const store = await openStore({ url: PG_ADMIN.replace(/\/[^/]*$/, `/${name}`) });
    try {
      // 'B' < 'a' bytewise; English collation puts 'a' first.
      for (const id of ['acc_a', 'acc_B']) {
        await insertAccount(store.db, {
          id,
          name: id,
          email: null,
          balance: 0,
          currency: 'USD',
          created_at: 0,
        });
      }
      const ids = (await listAccounts(store.db, { limit: 10 })).map((r) => r.id);
      expect(ids).toEqual(['acc_B', 'acc_a']);
      expect((await listAccounts(store.db, { limit: 10, after: 'acc_B' })).map((r) => r.id)).toEqual([
        'acc_a',
      ]);
    } finally {
      await store.close();
    }
  });
});
