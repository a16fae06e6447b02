import { sql } from 'kysely';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Context } from '../../src/context.js';
import { systemClock } from '../../src/core/clock.js';
import { deriveKeyring } from '../../src/core/crypto.js';
import { openStore, type Store } from '../../src/store/db.js';
import { insertOtpIfNoPending, otpByIdStatements } from '../../src/store/otps.js';
import { createAccount } from '../../src/tenancy/accounts.js';
import { createApp } from '../../src/tenancy/apps.js';
import { backend, freshDatabaseUrl, SECRET } from '../harness.js';

let store: Store;
let pendingId = '';

function otp(i: number, status: string, appId: string, accountId: string) {
  const now = Date.now();
  return {
    id: `otp_plan${String(i).padStart(8, '0')}`,
    account_id: accountId,
    app_id: appId,
    environment: 'sandbox',
    phone: `+9779841${String(i).padStart(6, '0')}`,
    country: 'NP',
    channel: 'sms',
    status,
    code_type: 'numeric',
    code_length: 6,
    code_hmac: 'x',
    code_ciphertext: null,
    message: 'm',
    sender_id: null,
    locale: null,
    attempts: 0,
    max_attempts: 3,
    resend_cooldown: 60,
    send_count: 1,
    last_sent_at: now,
    expires_at: now + 600_000,
    reference: null,
    metadata: null,
    ip: null,
    created_at: now,
    updated_at: now,
    verified_at: null,
    ended_at: status === 'pending' ? null : now,
  };
}

/**
 * The planner's statistics are taken while no OTP is pending (a quiet table),
 * then a burst makes thousands pending: statements that find an OTP by id
 * must still go by the primary key, not filter every pending OTP.
 */
beforeAll(async () => {
  store = await openStore({ url: await freshDatabaseUrl() });
  const ctx: Context = {
    store,
    clock: systemClock,
    keyring: deriveKeyring(SECRET),
    log: pino({ level: 'silent' }),
    wakeDelivery: () => {},
  };
  const account = await createAccount(ctx, { name: 'Plans' });
  const app = await createApp(ctx, { account_id: account.id, name: 'Plans', environment: 'sandbox' });
  await store.tx(async (trx) => {
    for (let i = 0; i < 3000; i++) await insertOtpIfNoPending(trx, otp(i, 'verified', app.id, account.id));
  });
  await sql`analyze`.execute(store.db);
  await store.tx(async (trx) => {
    for (let i = 3000; i < 6000; i++) await insertOtpIfNoPending(trx, otp(i, 'pending', app.id, account.id));
  });
  pendingId = otp(4500, 'pending', '', '').id;
}, 120_000);

afterAll(async () => {
  await store.close();
});

async function plan(statement: { sql: string; parameters: unknown[] }): Promise<string> {
  const prefix = backend === 'postgres' ? 'explain ' : 'explain query plan ';
  const result = await store.db.executeQuery<Record<string, unknown>>({
    ...statement,
    sql: prefix + statement.sql,
    query: sql``.toOperationNode() as never,
    queryId: { queryId: 'plan' },
  });
  return result.rows.map((r) => String(r['QUERY PLAN'] ?? r.detail)).join('\n');
}

describe(`plans of the statements that find an OTP by id (${backend})`, () => {
  for (const [name, statement] of Object.entries(otpByIdStatements)) {
    it(`${name} goes by the primary key after a burst the statistics did not see`, async () => {
      const text = await plan(statement().compiled(store.db, { id: pendingId, now: Date.now() }));
      if (backend === 'postgres') {
        expect(text).toContain('otps_pkey');
      } else {
        expect(text).toMatch(/PRIMARY KEY|sqlite_autoindex_otps_1/);
      }
      expect(text).not.toMatch(/otps_one_pending|otps_pending_expiry/);
    });
  }
});
