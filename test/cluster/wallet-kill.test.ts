import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/db.js';
import { ADMIN_TOKEN, freshDatabaseUrl, http, type ServerProcess, startProcess } from '../harness.js';
import { TestSmsc } from '../support/smsc.js';

/**
 * Money under SIGKILL: otpd (the built CLI) holds each live send's price,
 * delivers through SMPP to a loopback SMSC that reports delivered or
 * undelivered, and settles by the receipts, while it is killed at random
 * points of the stream, again and again. After the last restart, once every
 * message is settled: no message was delivered without its charge captured,
 * none failed without its hold released, no charge was taken twice, and the
 * ledger adds up to the balance.
 */

const ROUNDS = 4;
const BURST = 40;
const PRICE = 1_000;
const TOP_UP = 1_000_000;

let smsc: TestSmsc;
let databaseUrl: string;
let configFile: string;

beforeAll(async () => {
  // One number in five is unreachable: its receipt says UNDELIV and the hold goes back.
  smsc = await TestSmsc.start({
    accounts: { otpd: 'smpp-secret' },
    receiptDelayMs: 15,
    receiptStat: (submit) => (submit.destination_addr.endsWith('5') ? 'UNDELIV' : 'DELIVRD'),
  });
  databaseUrl = await freshDatabaseUrl();
  const dir = mkdtempSync(join(tmpdir(), 'otpd-wallet-kill-'));
  configFile = join(dir, 'delivery.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      lease: 4,
      reconcile_after: 6,
      providers: {
        smsc: {
          type: 'smpp',
          host: '127.0.0.1',
          port: smsc.port,
          system_id: 'otpd',
          password: 'smpp-secret',
          source_addr: 'OTPD',
          window: 32,
          throughput: 5000,
          timeout: 1,
          resend_after_silence: true,
        },
      },
      routes: [{ channel: 'sms', providers: ['smsc'] }],
    }),
  );
});

afterAll(async () => {
  await smsc?.close();
});

const start = () => startProcess(databaseUrl, { OTPD_CONFIG: configFile });

describe('SIGKILL while holding, delivering and settling', () => {
  it('never delivers without a capture, never settles twice, and the ledger adds up', {
    timeout: 60_000,
  }, async () => {
    let proc: ServerProcess = await start();
    const admin = (method: string, path: string, body?: unknown) =>
      http(`${proc.url}${path}`, method, { key: ADMIN_TOKEN, body });
    const account = await admin('POST', '/admin/v1/accounts', { name: 'Kill wallet', currency: 'KIL' });
    const accountId = account.body.data.id as string;
    const app = await admin('POST', '/admin/v1/apps', {
      account_id: accountId,
      name: 'Kill wallet app',
      environment: 'live',
      limits: { phone_hour: { max: 100, window: 3600 }, key_minute: { max: 100_000, window: 60 } },
    });
    const key = (await admin('POST', `/admin/v1/apps/${app.body.data.id}/keys`)).body.data.secret as string;
    expect(
      (
        await admin('PUT', '/admin/v1/prices', {
          currency: 'KIL',
          channel: 'sms',
          country: '*',
          price: PRICE,
        })
      ).status,
    ).toBe(200);
    expect(
      (await admin('POST', `/admin/v1/accounts/${accountId}/topups`, { amount: TOP_UP, reference: 'k' }))
        .status,
    ).toBe(201);

    const acknowledged = new Set<string>();
    let n = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const sends = Array.from({ length: BURST }, async () => {
        const phone = `+9779849${String(++n).padStart(6, '0')}`;
        try {
          const res = await http(`${proc.url}/v1/otp/send`, 'POST', { key, body: { phone } });
          if (res.status === 201) acknowledged.add(res.body.data.otp_id);
        } catch {
          // the process died under this request: not acknowledged
        }
      });
      // Kill at a random moment once some sends were acknowledged: while
      // holds commit, submits leave and receipts settle.
      const before = acknowledged.size;
      const deadline = Date.now() + 3000;
      while (acknowledged.size < before + 10 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 2));
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 150)));
      await proc.stop('SIGKILL');
      await Promise.all(sends);
      proc = await start();
    }

    const store = await openStore({ url: databaseUrl });
    try {
      const db = store.db;
      // After the last restart: wait until every message has its outcome and every hold is settled.
      const deadline = Date.now() + 30_000;
      for (;;) {
        const open = await db
          .selectFrom('messages')
          .select('id')
          .where('app_id', '=', app.body.data.id)
          .where('status', 'not in', ['delivered', 'failed'])
          .execute();
        const held = await db
          .selectFrom('charges')
          .innerJoin('messages', 'messages.id', 'charges.message_id')
          .select('charges.message_id')
          .where('charges.state', '=', 'held')
          .where('messages.status', 'in', ['delivered', 'failed'])
          .execute();
        if ((open.length === 0 && held.length === 0) || Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 200));
      }

      const messages = await db
        .selectFrom('messages')
        .select(['id', 'otp_id', 'status'])
        .where('app_id', '=', app.body.data.id)
        .execute();
      const charges = await db
        .selectFrom('charges')
        .selectAll()
        .where('account_id', '=', accountId)
        .execute();
      const entries = await db
        .selectFrom('ledger_entries')
        .selectAll()
        .where('account_id', '=', accountId)
        .execute();
      const wallet = await db
        .selectFrom('accounts')
        .select('balance')
        .where('id', '=', accountId)
        .executeTakeFirstOrThrow();

      expect(acknowledged.size).toBeGreaterThan(ROUNDS * 5);
      const otpsWithMessage = new Set(messages.map((m) => m.otp_id));
      for (const otpId of acknowledged)
        expect(otpsWithMessage.has(otpId), `${otpId} has its message`).toBe(true);
      // Every message was held for (a send without its hold never committed), and settled by its outcome.
      const chargeOf = new Map(charges.map((c) => [c.message_id, c]));
      for (const m of messages) {
        const charge = chargeOf.get(m.id);
        expect(charge, `${m.id} has a charge`).toBeDefined();
        expect([m.status, charge!.state], m.id).toEqual(
          m.status === 'delivered' ? ['delivered', 'captured'] : ['failed', 'released'],
        );
      }
      expect(charges).toHaveLength(messages.length);
      expect(messages.some((m) => m.status === 'failed')).toBe(true);
      // Each charge: one hold and exactly one settlement in the ledger, never two.
      for (const charge of charges) {
        const types = entries
          .filter((e) => e.reference === charge.message_id)
          .map((e) => e.type)
          .sort();
        expect(types, charge.message_id).toEqual(
          charge.state === 'captured' ? ['capture', 'hold'] : ['hold', 'release'],
        );
      }
      const captured = charges
        .filter((c) => c.state === 'captured')
        .reduce((s, c) => s + Number(c.amount), 0);
      expect(entries.reduce((s, e) => s + Number(e.amount), 0)).toBe(Number(wallet.balance));
      expect(entries.reduce((s, e) => s + Number(e.held_change), 0)).toBe(0);
      expect(Number(wallet.balance)).toBe(TOP_UP - captured);
    } finally {
      await store.close();
      await proc.stop();
    }
  });
});
