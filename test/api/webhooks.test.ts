import { createHmac, timingSafeEqual } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordActivity } from '../../src/activity/log.js';
import { queueMessage } from '../../src/delivery/outbox.js';
import type { Provider } from '../../src/delivery/provider.js';
import { ProviderError } from '../../src/delivery/provider.js';
import { sweepExpiredOtps } from '../../src/otp/expiry.js';
import { WebhookDispatcher } from '../../src/webhooks/dispatcher.js';
import { ADMIN_TOKEN, createHarness, type Harness, parallel, tally } from '../harness.js';
import { type ReceivedWebhook, WebhookReceiver } from '../support/webhook-receiver.js';

/**
 * Webhook endpoints through the admin API, the events that changes cause,
 * and their signatures, each checked with the official `standardwebhooks`
 * package and (X-Otpd-Signature) with plain crypto.
 */

let h: Harness;
let receiver: WebhookReceiver;
let dispatcher: WebhookDispatcher;
beforeAll(async () => {
  h = await createHarness();
  receiver = await WebhookReceiver.start();
  dispatcher = new WebhookDispatcher(h.ctx, { timeoutMs: 2000 });
});
afterAll(async () => {
  await receiver.close();
});

let paths = 0;
/** A receiver URL of its own, so each test reads only what was sent to it. */
const hookUrl = () => receiver.url(`/hook/${++paths}`);
const receivedAt = (url: string) => receiver.received.filter((r) => url.endsWith(r.path));

let phones = 0;
const nextPhone = () => `+9779800${String(++phones).padStart(6, '0')}`;

async function drain(d = dispatcher) {
  while ((await d.drainOnce()) > 0) {
    // until nothing is due
  }
}

async function addEndpoint(appId: string, body: Record<string, unknown> = {}) {
  const res = await h.admin('POST', `/admin/v1/apps/${appId}/webhooks`, { url: hookUrl(), ...body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.data as { id: string; url: string; secret: string; events: string[] | null };
}

async function sendOtp(key: string, phone = nextPhone()) {
  const res = await h.call('POST', '/v1/otp/send', { key, body: { phone } });
  expect(res.status).toBe(201);
  return res.body.data.otp_id as string;
}

/** Checks the X-Otpd-Signature header with plain crypto: hex HMAC-SHA256 of "t.body", keyed by the whole secret. */
function otpdSignatureValid(r: Pick<ReceivedWebhook, 'headers' | 'body'>, secret: string): boolean {
  const parts = (r.headers['x-otpd-signature'] ?? '').split(',');
  const t = parts.find((p) => p.startsWith('t='))?.slice(2);
  if (!t) return false;
  const expected = Buffer.from(createHmac('sha256', secret).update(`${t}.${r.body}`).digest('hex'));
  return parts
    .filter((p) => p.startsWith('v1='))
    .some((p) => {
      const given = Buffer.from(p.slice(3));
      return given.length === expected.length && timingSafeEqual(given, expected);
    });
}

function expectVerified(r: ReceivedWebhook, secret: string) {
  expect(() => new Webhook(secret).verify(r.body, r.headers)).not.toThrow();
  expect(otpdSignatureValid(r, secret)).toBe(true);
  expect(r.headers['x-otpd-signature']).toMatch(
    new RegExp(`^t=${r.headers['webhook-timestamp']},v1=[0-9a-f]{64}`),
  );
}

describe('webhook endpoints', () => {
  it('creates an endpoint with a whsec_ secret that is shown once and stored encrypted', async () => {
    const { app } = await h.tenant();
    const url = hookUrl();
    const res = await h.admin('POST', `/admin/v1/apps/${app.id}/webhooks`, { url, events: ['otp.sent'] });
    expect(res.status).toBe(201);
    const created = res.body.data;
    expect(created).toMatchObject({
      app_id: app.id,
      url,
      events: ['otp.sent'],
      enabled: true,
      disabled_reason: null,
      previous_secret_expires_at: null,
    });
    expect(created.id).toMatch(/^whk_/);
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    expect(Buffer.from(created.secret.slice(6), 'base64')).toHaveLength(24);

    const one = await h.admin('GET', `/admin/v1/apps/${app.id}/webhooks/${created.id}`);
    expect(one.status).toBe(200);
    expect(one.body.data.secret).toBeUndefined();
    const list = await h.admin('GET', `/admin/v1/apps/${app.id}/webhooks`);
    expect(list.body.data.items).toHaveLength(1);
    expect(JSON.stringify(list.body)).not.toContain(created.secret);

    const row = await h.ctx.store.db
      .selectFrom('webhook_endpoints')
      .selectAll()
      .where('id', '=', created.id)
      .executeTakeFirstOrThrow();
    expect(JSON.stringify(row)).not.toContain(created.secret.slice(6));
    expect(row.secret_ciphertext).toMatch(/^v1\./);
  });

  it('lists endpoints a page at a time', async () => {
    const { app } = await h.tenant();
    for (let i = 0; i < 3; i++) await addEndpoint(app.id);
    const first = await h.admin('GET', `/admin/v1/apps/${app.id}/webhooks?limit=2`);
    expect(first.body.data.items).toHaveLength(2);
    expect(first.body.data.next_cursor).toBe(first.body.data.items[1].id);
    const second = await h.admin(
      'GET',
      `/admin/v1/apps/${app.id}/webhooks?limit=2&cursor=${first.body.data.next_cursor}`,
    );
    expect(second.body.data.items).toHaveLength(1);
    expect(second.body.data.next_cursor).toBeNull();
  });

  it('changes the URL, the events and the enabled flag; null events means every event', async () => {
    const { app } = await h.tenant();
    const endpoint = await addEndpoint(app.id);
    expect(endpoint.events).toBeNull();
    const url = hookUrl();
    const patch = (body: unknown) =>
      h.admin('PATCH', `/admin/v1/apps/${app.id}/webhooks/${endpoint.id}`, body);
    const changed = await patch({
      url,
      events: ['otp.verified', 'otp.verified', 'balance.low'],
      enabled: false,
    });
    expect(changed.status).toBe(200);
    expect(changed.body.data).toMatchObject({ url, events: ['otp.verified', 'balance.low'], enabled: false });
    const back = await patch({ events: null, enabled: true });
    expect(back.body.data).toMatchObject({ url, events: null, enabled: true });
  });

  it('refuses unknown event names with INVALID_REQUEST on events', async () => {
    const { app } = await h.tenant();
    for (const events of [['otp.sent', 'otp.bogus'], [], ['OTP.SENT']]) {
      const res = await h.admin('POST', `/admin/v1/apps/${app.id}/webhooks`, { url: hookUrl(), events });
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'INVALID_REQUEST', field: 'events' });
    }
    const endpoint = await addEndpoint(app.id);
    const res = await h.admin('PATCH', `/admin/v1/apps/${app.id}/webhooks/${endpoint.id}`, {
      events: ['message.sent'],
    });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'INVALID_REQUEST', field: 'events' });
    expect(res.body.error.message).toContain('message.sent');
  });

  it('refuses URLs that are not http(s), carry credentials or do not parse', async () => {
    const { app } = await h.tenant();
    for (const url of [
      'ftp://127.0.0.1/hook',
      'file:///etc/passwd',
      'not a url',
      '/relative',
      'http://user:pw@127.0.0.1/hook',
      'http://user@127.0.0.1/hook',
      `http://127.0.0.1/${'x'.repeat(2100)}`,
    ]) {
      const res = await h.admin('POST', `/admin/v1/apps/${app.id}/webhooks`, { url });
      expect(res.status, url).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'INVALID_REQUEST', field: 'url' });
    }
    const missing = await h.admin('POST', `/admin/v1/apps/${app.id}/webhooks`, {});
    expect(missing.body.error).toMatchObject({ code: 'INVALID_REQUEST', field: 'url' });
  });

  it('answers NOT_FOUND for an unknown app, an unknown endpoint and an endpoint of another app', async () => {
    const { app } = await h.tenant();
    const { app: other } = await h.tenant();
    const endpoint = await addEndpoint(app.id);
    const notFound = [
      await h.admin('POST', '/admin/v1/apps/app_nope/webhooks', { url: hookUrl() }),
      await h.admin('GET', '/admin/v1/apps/app_nope/webhooks'),
      await h.admin('GET', `/admin/v1/apps/${app.id}/webhooks/whk_nope`),
      await h.admin('GET', `/admin/v1/apps/${other.id}/webhooks/${endpoint.id}`),
      await h.admin('PATCH', `/admin/v1/apps/${other.id}/webhooks/${endpoint.id}`, { enabled: false }),
      await h.admin('DELETE', `/admin/v1/apps/${other.id}/webhooks/${endpoint.id}`),
      await h.admin('POST', `/admin/v1/apps/${other.id}/webhooks/${endpoint.id}/rotate`, {}),
      await h.admin('GET', `/admin/v1/apps/${other.id}/webhooks/${endpoint.id}/deliveries`),
      await h.admin('POST', `/admin/v1/apps/${other.id}/webhooks/${endpoint.id}/deliveries/whd_x/replay`),
      await h.admin('POST', `/admin/v1/apps/${app.id}/webhooks/${endpoint.id}/deliveries/whd_x/replay`),
      await h.admin('GET', '/admin/v1/apps/app_nope/webhook-events'),
      await h.admin('GET', `/admin/v1/apps/${app.id}/webhook-events/evt_nope`),
      await h.admin('POST', `/admin/v1/apps/${app.id}/webhook-events/evt_nope/replay`),
    ];
    for (const res of notFound) {
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('NOT_FOUND');
    }
    // The endpoint is untouched by the foreign calls.
    const still = await h.admin('GET', `/admin/v1/apps/${app.id}/webhooks/${endpoint.id}`);
    expect(still.body.data.enabled).toBe(true);
  });

  it('documents every webhook route in the OpenAPI document', async () => {
    const spec = (await h.call('GET', '/openapi.json')).body;
    expect(Object.keys(spec.paths).filter((p) => p.includes('webhook'))).toEqual([
      '/admin/v1/apps/{id}/webhooks',
      '/admin/v1/apps/{id}/webhooks/{endpoint_id}',
      '/admin/v1/apps/{id}/webhooks/{endpoint_id}/rotate',
      '/admin/v1/apps/{id}/webhooks/{endpoint_id}/deliveries',
      '/admin/v1/apps/{id}/webhooks/{endpoint_id}/deliveries/{delivery_id}/replay',
      '/admin/v1/apps/{id}/webhook-events',
      '/admin/v1/apps/{id}/webhook-events/{event_id}',
      '/admin/v1/apps/{id}/webhook-events/{event_id}/replay',
    ]);
    expect(spec.paths['/admin/v1/apps/{id}/webhooks'].post.tags).toEqual(['Webhooks']);
  });

  it('needs the operator token', async () => {
    const { app, key } = await h.tenant();
    const res = await h.call('GET', `/admin/v1/apps/${app.id}/webhooks`, { key });
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('INVALID_ADMIN_TOKEN');
  });

  it('deletes an endpoint with its deliveries', async () => {
    const { app, key } = await h.tenant();
    const endpoint = await addEndpoint(app.id);
    await sendOtp(key);
    await h.deliver();
    const deleted = await h.admin('DELETE', `/admin/v1/apps/${app.id}/webhooks/${endpoint.id}`);
    expect(deleted.status).toBe(200);
    expect(deleted.body.data.id).toBe(endpoint.id);
    expect((await h.admin('GET', `/admin/v1/apps/${app.id}/webhooks/${endpoint.id}`)).status).toBe(404);
    const left = await h.ctx.store.db
      .selectFrom('webhook_deliveries')
      .select('id')
      .where('endpoint_id', '=', endpoint.id)
      .execute();
    expect(left).toEqual([]);
    expect((await h.admin('DELETE', `/admin/v1/apps/${app.id}/webhooks/${endpoint.id}`)).status).toBe(404);
  });

  it('allows at most 10 endpoints per app, also under parallel requests', async () => {
    const { app } = await h.tenant();
    const results = await parallel(14, () =>
      h.admin('POST', `/admin/v1/apps/${app.id}/webhooks`, { url: hookUrl() }),
    );
    expect(tally(results)).toEqual({ '201': 10, '400 INVALID_REQUEST': 4 });
  });

  it('replays an idempotent create with the same secret', async () => {
    const { app } = await h.tenant();
    const url = hookUrl();
    const create = () =>
      h.call('POST', `/admin/v1/apps/${app.id}/webhooks`, {
        key: ADMIN_TOKEN,
        body: { url },
        headers: { 'idempotency-key': `wh-${app.id}` },
      });
    const first = await create();
    const again = await create();
    expect(again.status).toBe(201);
    expect(again.body.data.secret).toBe(first.body.data.secret);
    const list = await h.admin('GET', `/admin/v1/apps/${app.id}/webhooks`);
    expect(list.body.data.items).toHaveLength(1);
  });
});

describe('SSRF at registration', () => {
  const refused = [
    'http://127.0.0.1/hook',
    'http://127.1.2.3:8080/hook',
    'http://10.0.0.1/hook',
    'http://172.16.5.4/hook',
    'http://192.168.1.1/hook',
    'http://100.64.0.1/hook',
    'http://169.254.169.254/latest/meta-data/',
    'http://[::1]/hook',
    'http://[::ffff:127.0.0.1]/hook',
    'http://[::ffff:169.254.169.254]/hook',
    'http://[fc00::1]/hook',
    'http://[fe80::1]/hook',
    'http://0.0.0.0/hook',
    'http://2130706433/hook',
    'http://0x7f.1/hook',
    'http://localhost/hook',
    'https://localhost:8443/hook',
  ];

  it.each(refused)('refuses %s when private targets are not allowed', async (url) => {
    const { app } = await h.tenant();
    h.ctx.allowPrivateWebhooks = false;
    try {
      const res = await h.admin('POST', `/admin/v1/apps/${app.id}/webhooks`, { url });
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'INVALID_REQUEST', field: 'url' });
      expect(res.body.error.message).toMatch(/refused|resolve/);
    } finally {
      h.ctx.allowPrivateWebhooks = true;
    }
  });

  it('says which address was refused and how to allow it', async () => {
    const { app } = await h.tenant();
    h.ctx.allowPrivateWebhooks = false;
    try {
      const res = await h.admin('POST', `/admin/v1/apps/${app.id}/webhooks`, { url: 'http://localhost:9/x' });
      expect(res.body.error.message).toMatch(/localhost resolves to (127\.0\.0\.1|::1), and .* loopback/);
      expect(res.body.error.message).toContain('OTPD_WEBHOOK_ALLOW_PRIVATE');
      const endpoint = await h.admin('POST', `/admin/v1/apps/${app.id}/webhooks`, {
        url: 'http://203.0.113.9/x',
      });
      expect(endpoint.body.error.message).toContain('documentation address');
    } finally {
      h.ctx.allowPrivateWebhooks = true;
    }
  });

  it('refuses a private URL on PATCH too', async () => {
    const { app } = await h.tenant();
    const endpoint = await addEndpoint(app.id);
    h.ctx.allowPrivateWebhooks = false;
    try {
      const res = await h.admin('PATCH', `/admin/v1/apps/${app.id}/webhooks/${endpoint.id}`, {
        url: 'http://10.1.2.3/hook',
      });
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'INVALID_REQUEST', field: 'url' });
    } finally {
      h.ctx.allowPrivateWebhooks = true;
    }
  });

  it('allows loopback with OTPD_WEBHOOK_ALLOW_PRIVATE, but never link-local or metadata', async () => {
    const { app } = await h.tenant();
    expect(h.ctx.allowPrivateWebhooks).toBe(true);
    await addEndpoint(app.id, { url: 'http://127.0.0.1:9/hook' });
    await addEndpoint(app.id, { url: 'http://localhost:9/hook' });
    for (const url of ['http://169.254.169.254/latest', 'http://[fd00:ec2::254]/', 'http://0.0.0.0/']) {
      const res = await h.admin('POST', `/admin/v1/apps/${app.id}/webhooks`, { url });
      expect(res.status, url).toBe(400);
      expect(res.body.error.field).toBe('url');
    }
  });
});

describe('events', () => {
  it('sends otp.sent and otp.delivered when an OTP goes out, with OTP and message fields and never the code', async () => {
    const { app, key } = await h.tenant();
    const endpoint = await addEndpoint(app.id);
    const phone = nextPhone();
    const res = await h.call('POST', '/v1/otp/send', {
      key,
      body: { phone, reference: 'login-7', metadata: { user: 'u_1' } },
    });
    const otpId = res.body.data.otp_id;
    await h.deliver();
    await drain();
    const got = receivedAt(endpoint.url);
    expect(got.map((r) => JSON.parse(r.body).type)).toEqual(['otp.sent', 'otp.delivered']);
    for (const r of got) {
      expectVerified(r, endpoint.secret);
      const body = JSON.parse(r.body);
      expect(body.id).toMatch(/^evt_/);
      expect(r.headers['webhook-id']).toBe(body.id);
      expect(r.headers['content-type']).toBe('application/json');
      expect(Date.parse(body.created_at)).toBe(h.clock.now());
      expect(body.app).toEqual({ app_id: app.id, name: app.name, environment: 'sandbox' });
      expect(body.data).toMatchObject({
        otp_id: otpId,
        phone,
        channel: 'sms',
        status: 'pending',
        reference: 'login-7',
        metadata: { user: 'u_1' },
        attempts: 0,
        max_attempts: 3,
        message: { otp_id: otpId, kind: 'otp', channel: 'sms', provider: 'inbox' },
      });
      expect(body.data.message.message_id).toMatch(/^msg_/);
      // Never the code (the sandbox code is 123456) nor the message text.
      expect(r.body).not.toContain('123456');
      expect(r.body).not.toMatch(/"(code|text)"/);
    }
    expect(JSON.parse(got[1]!.body).data.message.status).toBe('delivered');
  });

  it('sends otp.verified and otp.expired', async () => {
    const { app, key } = await h.tenant();
    const endpoint = await addEndpoint(app.id, { events: ['otp.verified', 'otp.expired'] });
    const verified = await sendOtp(key);
    const expiring = await sendOtp(key);
    const ok = await h.call('POST', '/v1/otp/verify', { key, body: { otp_id: verified, code: '123456' } });
    expect(ok.body.data.verified).toBe(true);
    h.clock.advance(301);
    await sweepExpiredOtps(h.ctx);
    await h.deliver();
    await drain();
    const bodies = receivedAt(endpoint.url).map((r) => JSON.parse(r.body));
    expect(bodies.map((b) => [b.type, b.data.otp_id, b.data.status])).toEqual([
      ['otp.verified', verified, 'verified'],
      ['otp.expired', expiring, 'expired'],
    ]);
    expect(bodies[0].data.attempts).toBe(1);
    expect(bodies[0].data.verified_at).not.toBeNull();
    for (const r of receivedAt(endpoint.url)) expectVerified(r, endpoint.secret);
  });

  it('sends sms.sent and sms.delivered for a transactional message, with message fields', async () => {
    const { app, accountId } = await h.tenant();
    const endpoint = await addEndpoint(app.id);
    const phone = nextPhone();
    const messageId = await h.ctx.store.tx((trx) =>
      queueMessage(trx, h.ctx.keyring, h.clock.now(), {
        account_id: accountId,
        app_id: app.id,
        otp_id: null,
        kind: 'sms',
        environment: 'sandbox',
        channel: 'sms',
        phone,
        country: 'NP',
        sender_id: null,
        text: 'Your order 42 shipped',
      }),
    );
    await h.deliver();
    await drain();
    const bodies = receivedAt(endpoint.url).map((r) => JSON.parse(r.body));
    expect(bodies.map((b) => b.type)).toEqual(['sms.sent', 'sms.delivered']);
    expect(bodies[1].data).toMatchObject({
      message_id: messageId,
      otp_id: null,
      kind: 'sms',
      phone,
      status: 'delivered',
      provider: 'inbox',
    });
    expect(JSON.stringify(bodies)).not.toContain('order 42');
  });

  it('sends only the events an endpoint subscribed to, and nothing to a disabled one', async () => {
    const { app, key } = await h.tenant();
    const only = await addEndpoint(app.id, { events: ['otp.delivered'] });
    const off = await addEndpoint(app.id, { enabled: false });
    await sendOtp(key);
    await h.deliver();
    await drain();
    expect(receivedAt(only.url).map((r) => JSON.parse(r.body).type)).toEqual(['otp.delivered']);
    expect(receivedAt(off.url)).toEqual([]);
  });

  it('gives every endpoint of the app the same event id and body', async () => {
    const { app, key } = await h.tenant();
    const a = await addEndpoint(app.id, { events: ['otp.sent'] });
    const b = await addEndpoint(app.id, { events: ['otp.sent'] });
    await sendOtp(key);
    await h.deliver();
    await drain();
    const [ra] = receivedAt(a.url);
    const [rb] = receivedAt(b.url);
    expect(ra!.body).toBe(rb!.body);
    expect(ra!.headers['webhook-id']).toBe(rb!.headers['webhook-id']);
    expectVerified(ra!, a.secret);
    expectVerified(rb!, b.secret);
    expect(() => new Webhook(b.secret).verify(ra!.body, ra!.headers)).toThrow();
  });

  it('queues nothing for an app without endpoints', async () => {
    const { key } = await h.tenant();
    const count = async () =>
      Number(
        (
          await h.ctx.store.db
            .selectFrom('webhook_events')
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );
    const before = await count();
    await sendOtp(key);
    await h.deliver();
    expect(await count()).toBe(before);
  });

  it('sends balance.low to the endpoints of every app of the account, each with its app', async () => {
    const { app, accountId } = await h.tenant();
    const second = await h.admin('POST', '/admin/v1/apps', {
      account_id: accountId,
      name: 'Second app',
      environment: 'live',
    });
    const a = await addEndpoint(app.id, { events: ['balance.low'] });
    const b = await addEndpoint(second.body.data.id);
    const { app: stranger } = await h.tenant();
    const c = await addEndpoint(stranger.id);
    await h.ctx.store.tx((trx) =>
      recordActivity(trx, h.clock.now(), {
        account_id: accountId,
        app_id: null,
        type: 'balance.low',
        detail: { threshold: 5_000_000 },
      }),
    );
    await drain();
    const [ra] = receivedAt(a.url).map((r) => JSON.parse(r.body));
    const [rb] = receivedAt(b.url).map((r) => JSON.parse(r.body));
    expect(ra).toMatchObject({
      type: 'balance.low',
      app: { app_id: app.id, environment: 'sandbox' },
      data: {
        account_id: accountId,
        balance: expect.any(Number),
        currency: expect.any(String),
        threshold: 5_000_000,
      },
    });
    expect(rb).toMatchObject({
      type: 'balance.low',
      app: { app_id: second.body.data.id, name: 'Second app' },
    });
    expect(ra.id).not.toBe(rb.id);
    expect(receivedAt(c.url)).toEqual([]);
  });

  it('lists an app’s events and shows one with its deliveries', async () => {
    const { app, key } = await h.tenant();
    const endpoint = await addEndpoint(app.id, { events: ['otp.sent'] });
    await sendOtp(key);
    await h.deliver();
    await drain();
    const list = await h.admin('GET', `/admin/v1/apps/${app.id}/webhook-events?type=otp.sent`);
    expect(list.status).toBe(200);
    expect(list.body.data.items).toHaveLength(1);
    const event = list.body.data.items[0];
    expect(event.payload).toMatchObject({ id: event.id, type: 'otp.sent' });
    const one = await h.admin('GET', `/admin/v1/apps/${app.id}/webhook-events/${event.id}`);
    expect(one.body.data.deliveries).toMatchObject([
      {
        endpoint_id: endpoint.id,
        event_id: event.id,
        status: 'succeeded',
        attempt_count: 1,
        attempts: [{ status_code: 200 }],
      },
    ]);
    const { app: other } = await h.tenant();
    expect((await h.admin('GET', `/admin/v1/apps/${other.id}/webhook-events/${event.id}`)).status).toBe(404);
  });
});

describe('events from failed deliveries', () => {
  let f: Harness;
  let fd: WebhookDispatcher;
  beforeAll(async () => {
    const failing: Provider = {
      name: 'broken',
      type: 'broken',
      channels: ['sms', 'whatsapp', 'voice', 'rcs'],
      async send() {
        throw new ProviderError('number unreachable', 'permanent');
      },
    };
    f = await createHarness({ provider: () => failing });
    fd = new WebhookDispatcher(f.ctx, { timeoutMs: 2000 });
  });

  it('sends otp.failed (not an otp message failure) when no message of the OTP can reach the user', async () => {
    const { app, key } = await f.tenant();
    const res = await f.admin('POST', `/admin/v1/apps/${app.id}/webhooks`, { url: hookUrl() });
    const endpoint = res.body.data;
    const sent = await f.call('POST', '/v1/otp/send', { key, body: { phone: nextPhone() } });
    await f.deliver();
    await drain(fd);
    const got = receivedAt(endpoint.url);
    expect(got.map((r) => JSON.parse(r.body).type)).toEqual(['otp.failed']);
    const body = JSON.parse(got[0]!.body);
    expect(body.data).toMatchObject({
      otp_id: sent.body.data.otp_id,
      status: 'failed',
      message: { status: 'failed', provider: 'broken' },
    });
    expect(body.data.message.error).toContain('number unreachable');
    expectVerified(got[0]!, endpoint.secret);
  });

  it('sends sms.failed when a transactional message fails', async () => {
    const { app, accountId } = await f.tenant();
    const res = await f.admin('POST', `/admin/v1/apps/${app.id}/webhooks`, { url: hookUrl() });
    const endpoint = res.body.data;
    await f.ctx.store.tx((trx) =>
      queueMessage(trx, f.ctx.keyring, f.clock.now(), {
        account_id: accountId,
        app_id: app.id,
        otp_id: null,
        kind: 'sms',
        environment: 'sandbox',
        channel: 'sms',
        phone: nextPhone(),
        country: 'NP',
        sender_id: null,
        text: 'Your order shipped',
      }),
    );
    await f.deliver();
    await drain(fd);
    const bodies = receivedAt(endpoint.url).map((r) => JSON.parse(r.body));
    expect(bodies.map((b) => b.type)).toEqual(['sms.failed']);
    expect(bodies[0].data).toMatchObject({ kind: 'sms', status: 'failed', provider: 'broken' });
  });
});

describe('signatures', () => {
  async function oneDelivery(key: string, url: string) {
    const before = receivedAt(url).length;
    await sendOtp(key);
    await h.deliver();
    await drain();
    const got = receivedAt(url);
    expect(got.length).toBeGreaterThan(before);
    return got[got.length - 1]!;
  }

  it('fails verification when the body, the id or the timestamp is tampered with', async () => {
    const { app, key } = await h.tenant();
    const endpoint = await addEndpoint(app.id, { events: ['otp.sent'] });
    const r = await oneDelivery(key, endpoint.url);
    expectVerified(r, endpoint.secret);
    const wh = new Webhook(endpoint.secret);
    const body = JSON.parse(r.body);
    const tamperedBody = JSON.stringify({ ...body, data: { ...body.data, status: 'verified' } });
    expect(() => wh.verify(tamperedBody, r.headers)).toThrow();
    expect(() => wh.verify(r.body, { ...r.headers, 'webhook-id': 'evt_forged' })).toThrow();
    const ts = String(Number(r.headers['webhook-timestamp']) - 1);
    expect(() => wh.verify(r.body, { ...r.headers, 'webhook-timestamp': ts })).toThrow();
    expect(() => new Webhook('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw').verify(r.body, r.headers)).toThrow();

    expect(otpdSignatureValid({ headers: r.headers, body: tamperedBody }, endpoint.secret)).toBe(false);
    const shifted = r.headers['x-otpd-signature']!.replace(/^t=\d+/, `t=${ts}`);
    expect(
      otpdSignatureValid({ headers: { 'x-otpd-signature': shifted }, body: r.body }, endpoint.secret),
    ).toBe(false);
  });

  it('signs with both secrets during a rotation, and with the new one alone after the overlap', async () => {
    const { app, key } = await h.tenant();
    const endpoint = await addEndpoint(app.id, { events: ['otp.sent'] });
    const rotated = await h.admin('POST', `/admin/v1/apps/${app.id}/webhooks/${endpoint.id}/rotate`, {});
    expect(rotated.status).toBe(200);
    const fresh = rotated.body.data.secret as string;
    expect(fresh).toMatch(/^whsec_/);
    expect(fresh).not.toBe(endpoint.secret);
    expect(Date.parse(rotated.body.data.previous_secret_expires_at)).toBe(h.clock.now() + 86_400_000);

    const during = await oneDelivery(key, endpoint.url);
    expect(during.headers['webhook-signature']!.split(' ')).toHaveLength(2);
    expect(during.headers['x-otpd-signature']!.match(/v1=/g)).toHaveLength(2);
    expectVerified(during, fresh);
    expectVerified(during, endpoint.secret);

    h.clock.advance(86_401);
    const after = await oneDelivery(key, endpoint.url);
    expect(after.headers['webhook-signature']!.split(' ')).toHaveLength(1);
    expectVerified(after, fresh);
    expect(() => new Webhook(endpoint.secret).verify(after.body, after.headers)).toThrow();
    expect(otpdSignatureValid(after, endpoint.secret)).toBe(false);
    const read = await h.admin('GET', `/admin/v1/apps/${app.id}/webhooks/${endpoint.id}`);
    expect(read.body.data.previous_secret_expires_at).toBeNull();
  });

  it('drops the old secret at once with overlap_seconds 0', async () => {
    const { app, key } = await h.tenant();
    const endpoint = await addEndpoint(app.id, { events: ['otp.sent'] });
    const rotated = await h.admin('POST', `/admin/v1/apps/${app.id}/webhooks/${endpoint.id}/rotate`, {
      overlap_seconds: 0,
    });
    expect(rotated.body.data.previous_secret_expires_at).toBeNull();
    const r = await oneDelivery(key, endpoint.url);
    expectVerified(r, rotated.body.data.secret);
    expect(() => new Webhook(endpoint.secret).verify(r.body, r.headers)).toThrow();
    const bad = await h.admin('POST', `/admin/v1/apps/${app.id}/webhooks/${endpoint.id}/rotate`, {
      overlap_seconds: -1,
    });
    expect(bad.body.error).toMatchObject({ code: 'INVALID_REQUEST', field: 'overlap_seconds' });
  });

  it('keeps a chain of secrets under parallel rotations: every signature is one that was handed out', async () => {
    const { app, key } = await h.tenant();
    const endpoint = await addEndpoint(app.id, { events: ['otp.sent'] });
    const rotations = await parallel(4, () =>
      h.admin('POST', `/admin/v1/apps/${app.id}/webhooks/${endpoint.id}/rotate`, {}),
    );
    expect(tally(rotations)).toEqual({ '200': 4 });
    const handedOut = rotations.map((r) => r.body.data.secret as string);
    const r = await oneDelivery(key, endpoint.url);
    const verifying = [endpoint.secret, ...handedOut].filter((secret) => {
      try {
        new Webhook(secret).verify(r.body, r.headers);
        return true;
      } catch {
        return false;
      }
    });
    // The last rotation's secret and the one it replaced: both were handed out.
    expect(verifying).toHaveLength(2);
    expect(verifying.every((s) => handedOut.includes(s))).toBe(true);
  });
});
