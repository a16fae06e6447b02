import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/db.js';
import { ADMIN_TOKEN, freshDatabaseUrl, http, type ServerProcess, startProcess } from '../harness.js';
import { TestSmsc } from '../support/smsc.js';

/**
 * otpd processes (the built CLI) delivering through SMPP to a loopback SMSC,
 * SIGKILLed again and again in the middle of bursts. Every OTP whose send was
 * acknowledged must reach the SMSC after the restarts, and none may be
 * submitted twice: a message that was out when its process died waits for
 * the SMSC's receipt (kept for the next bind, as SMSCs do) instead of being
 * sent again.
 */

const ROUNDS = 5;
const BURST = 40;

let smsc: TestSmsc;
let databaseUrl: string;
let configFile: string;

beforeAll(async () => {
  smsc = await TestSmsc.start({ accounts: { otpd: 'smpp-secret' }, receiptDelayMs: 20 });
  databaseUrl = await freshDatabaseUrl();
  const dir = mkdtempSync(join(tmpdir(), 'otpd-kill-'));
  configFile = join(dir, 'delivery.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      lease: 4,
      reconcile_after: 10,
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
          // This SMSC reports every message it takes at once (as most do
          // with registered_delivery): silence means it never got one.
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

const outputs: (() => string)[] = [];
const start = async () => {
  const proc = await startProcess(databaseUrl, { OTPD_CONFIG: configFile });
  outputs.push(proc.output);
  return proc;
};

// What this found: a receipt kept for the next bind reached a process that
// was killed before its lookup gave up waiting for the submit answer, again
// and again, until `reconcile_after` sent the message a second time. An
// `unknown` message now takes its receipt by phone at once (receipts.ts).
describe('SIGKILL during delivery', () => {
  it('delivers every acknowledged OTP after restarts, none submitted twice', {
    timeout: 120_000,
  }, async () => {
    let proc: ServerProcess = await start();
    const admin = (method: string, path: string, body?: unknown) =>
      http(`${proc.url}${path}`, method, { key: ADMIN_TOKEN, body });
    const account = await admin('POST', '/admin/v1/accounts', { name: 'Kill' });
    const app = await admin('POST', '/admin/v1/apps', {
      account_id: account.body.data.id,
      name: 'Kill app',
      environment: 'live',
      limits: { phone_hour: { max: 100, window: 3600 }, key_minute: { max: 100000, window: 60 } },
    });
    const key = (await admin('POST', `/admin/v1/apps/${app.body.data.id}/keys`)).body.data.secret as string;

    const acknowledged = new Map<string, string>(); // phone → otp id
    let n = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const sends = Array.from({ length: BURST }, async () => {
        const phone = `+9779842${String(++n).padStart(6, '0')}`;
        try {
          const res = await http(`${proc.url}/v1/otp/send`, 'POST', { key, body: { phone } });
          if (res.status === 201) acknowledged.set(phone, res.body.data.otp_id);
        } catch {
          // the process died under this request: not acknowledged
        }
      });
      // Kill while sends are answered and the worker is submitting: once a
      // few of this round's sends were acknowledged, at a random moment.
      const before = acknowledged.size;
      const deadline = Date.now() + 5000;
      while (acknowledged.size < before + 8 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 2));
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 60)));
      await proc.stop('SIGKILL');
      await Promise.all(sends);
      proc = await start();
    }

    // After the last restart: wait until every acknowledged OTP's message is settled.
    const store = await openStore({ url: databaseUrl });
    try {
      const deadline = Date.now() + 60_000;
      let rows: { otp_id: string | null; status: string; error: string | null; phone: string }[] = [];
      for (;;) {
        rows = await store.db.selectFrom('messages').select(['otp_id', 'status', 'error', 'phone']).execute();
        const delivered = new Set(rows.filter((r) => r.status === 'delivered').map((r) => r.otp_id));
        if ([...acknowledged.values()].every((id) => delivered.has(id)) || Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      const byOtp = new Map(rows.map((r) => [r.otp_id, r.status]));
      const undelivered = [...acknowledged.values()].filter((id) => byOtp.get(id) !== 'delivered');
      const detail = rows
        .filter((r) => undelivered.includes(r.otp_id!))
        .map(
          (r) =>
            `${r.phone} ${r.status} ${r.error} submits=${smsc.messages().filter((m) => m.destination === r.phone.slice(1)).length}`,
        );
      expect(
        undelivered,
        `undelivered:\n${detail.join('\n')}\n${outputs.map((o) => o()).join('\n---\n')}`,
      ).toEqual([]);
    } finally {
      await store.close();
    }

    expect(acknowledged.size).toBeGreaterThan(ROUNDS * 5);
    const submitted = new Map<string, number>();
    for (const message of smsc.messages()) {
      submitted.set(message.destination, (submitted.get(message.destination) ?? 0) + 1);
    }
    for (const phone of acknowledged.keys()) {
      expect(submitted.get(phone.slice(1)), `submits to ${phone}`).toBe(1);
    }
    // Nothing reached the SMSC that was not asked for either.
    for (const [destination, count] of submitted) expect(count, destination).toBe(1);
    await proc.stop();
  });
});
