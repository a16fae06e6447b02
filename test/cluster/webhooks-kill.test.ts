import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/db.js';
import { ADMIN_TOKEN, freshDatabaseUrl, http, type ServerProcess, startProcess } from '../harness.js';
import { WebhookReceiver } from '../support/webhook-receiver.js';

/**
 * otpd processes (the built CLI: `npm run build` first) sending webhooks to
 * a loopback receiver that is down for a while, SIGKILLed in the middle of
 * sends and of webhook deliveries, and restarted. Every event of every
 * acknowledged send must reach the receiver at least once, by its id.
 *
 * The retry schedule is shortened through OTPD_WEBHOOK_RETRY_SCHEDULE (the
 * default's second try is 5 min out); a claim held by a killed process is
 * taken again when its 20 s lease ends, which is most of this test's time.
 */

const ENV = {
  OTPD_WEBHOOK_ALLOW_PRIVATE: 'true',
  OTPD_WEBHOOK_RETRY_SCHEDULE: '1,1,2,2,3,3,5,5,5',
};

let receiver: WebhookReceiver;
let databaseUrl: string;

beforeAll(async () => {
  receiver = await WebhookReceiver.start();
  databaseUrl = await freshDatabaseUrl();
});

afterAll(async () => {
  await receiver?.close();
});

const until = async (check: () => boolean, ms: number) => {
  const deadline = Date.now() + ms;
  while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
};

describe('SIGKILL while webhooks are owed', () => {
  it('delivers every event of every acknowledged send at least once after restarts', {
    timeout: 90_000,
  }, async () => {
    const started = Date.now();
    let proc: ServerProcess = await startProcess(databaseUrl, ENV);
    const admin = (method: string, path: string, body?: unknown) =>
      http(`${proc.url}${path}`, method, { key: ADMIN_TOKEN, body });
    const account = await admin('POST', '/admin/v1/accounts', { name: 'Webhook kill' });
    const app = await admin('POST', '/admin/v1/apps', {
      account_id: account.body.data.id,
      name: 'Webhook kill app',
      environment: 'sandbox',
      limits: { phone_hour: { max: 100, window: 3600 }, key_minute: { max: 100000, window: 60 } },
    });
    const appId = app.body.data.id as string;
    const key = (await admin('POST', `/admin/v1/apps/${appId}/keys`)).body.data.secret as string;
    const endpoint = await admin('POST', `/admin/v1/apps/${appId}/webhooks`, {
      url: receiver.url('/kill'),
      events: ['otp.sent', 'otp.delivered'],
    });
    expect(endpoint.status, JSON.stringify(endpoint.body)).toBe(201);
    const secret = endpoint.body.data.secret as string;

    const acknowledged = new Set<string>();
    let n = 0;
    const burst = (count: number) =>
      Array.from({ length: count }, async () => {
        const phone = `+9779845${String(++n).padStart(6, '0')}`;
        try {
          const res = await http(`${proc.url}/v1/otp/send`, 'POST', { key, body: { phone } });
          if (res.status === 201) acknowledged.add(res.body.data.otp_id);
        } catch {
          // the process died under this request: not acknowledged
        }
      });

    // Round 1: the receiver is down; kill while sends are answered and deliveries fail.
    await receiver.down();
    let sends = burst(30);
    await until(() => acknowledged.size >= 10, 5000);
    await new Promise((r) => setTimeout(r, 200 + Math.random() * 300));
    await proc.stop('SIGKILL');
    await Promise.all(sends);
    proc = await startProcess(databaseUrl, ENV);

    // Round 2: more sends, the receiver comes back, and the process dies while it is being sent to.
    sends = burst(30);
    await new Promise((r) => setTimeout(r, 1000));
    await receiver.up();
    const before = receiver.received.length;
    await until(() => receiver.received.length >= before + 5, 5000);
    await proc.stop('SIGKILL');
    await Promise.all(sends);
    proc = await startProcess(databaseUrl, ENV);

    // Round 3: a few more on a healthy path.
    await Promise.all(burst(10));
    expect(acknowledged.size).toBeGreaterThan(30);

    // Every acknowledged OTP's message goes out (otp.sent and otp.delivered
    // events), and every such event reaches the receiver.
    const store = await openStore({ url: databaseUrl });
    try {
      let missing: string[] = [];
      let owed: string[] = [];
      const deadline = Date.now() + 50_000;
      for (;;) {
        const events = await store.db
          .selectFrom('webhook_events')
          .select(['id', 'type', 'payload'])
          .where('app_id', '=', appId)
          .execute();
        const byOtp = new Map<string, string[]>();
        for (const e of events) {
          const otpId = JSON.parse(e.payload).data.otp_id as string;
          byOtp.set(otpId, [...(byOtp.get(otpId) ?? []), e.type]);
        }
        missing = [...acknowledged].filter(
          (id) => !byOtp.get(id)?.includes('otp.sent') || !byOtp.get(id)?.includes('otp.delivered'),
        );
        const received = new Set(receiver.ids());
        owed = events.map((e) => e.id).filter((id) => !received.has(id));
        if ((missing.length === 0 && owed.length === 0) || Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      const states = await store.db
        .selectFrom('webhook_deliveries')
        .select(['event_id', 'status', 'attempts', 'last_error'])
        .where('event_id', 'in', owed.length > 0 ? owed : ['-'])
        .execute();
      expect(missing, 'acknowledged OTPs without their events').toEqual([]);
      expect(owed, `events never received: ${JSON.stringify(states)}\n${proc.output()}`).toEqual([]);
    } finally {
      await store.close();
    }

    // What arrived is what otpd signed.
    const wh = new Webhook(secret);
    for (const r of receiver.received) expect(() => wh.verify(r.body, r.headers)).not.toThrow();
    await proc.stop();
    expect(Date.now() - started).toBeLessThan(80_000);
  });
});
