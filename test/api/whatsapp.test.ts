import { createServer } from 'node:net';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkDeliveryConfig } from '../../src/delivery/config.js';
import type { OutboundMessage, ProviderDeps, Receipt } from '../../src/delivery/provider.js';
import { ProviderError } from '../../src/delivery/provider.js';
import { classifyGraphError, whatsappProvider } from '../../src/delivery/providers/whatsapp.js';
import { PROVIDER_SCHEMAS } from '../../src/delivery/registry.js';
import { codeFromInbox, createHarness, type Harness } from '../harness.js';
import { startWhatsAppServer, type WhatsAppServer } from '../support/whatsapp-server.js';

const PHONE_NUMBER_ID = '106540352242922';
const ACCESS_TOKEN = 'EAAGloopbackSystemUserToken0123456789';
const APP_SECRET = 'loopback-meta-app-secret-0123456789';
const VERIFY_TOKEN = 'otpd-subscribe-0123456789';

let h: Harness;
let wa: WhatsAppServer;
/** otpd listening on loopback, where the WhatsApp server posts its webhooks. */
let otpdUrl: string;

const waSettings = (extra: Record<string, unknown> = {}) => ({
  type: 'whatsapp',
  phone_number_id: PHONE_NUMBER_ID,
  access_token: ACCESS_TOKEN,
  app_secret: APP_SECRET,
  verify_token: VERIFY_TOKEN,
  languages: ['en_US', 'ne_NP'],
  base_url: wa.url,
  timeout: 0.5,
  ...extra,
});

beforeAll(async () => {
  wa = await startWhatsAppServer({
    accessToken: ACCESS_TOKEN,
    phoneNumberId: PHONE_NUMBER_ID,
    appSecret: APP_SECRET,
  });
  h = await createHarness({
    delivery: {
      providers: {
        wa: waSettings(),
        wa_expired: waSettings({ access_token: 'EAAGexpiredToken' }),
        wa_unapproved: waSettings({ template: 'login_code' }),
      },
      routes: [
        { channel: 'whatsapp', prefixes: ['+97798000'], providers: ['wa_expired'] },
        { channel: 'whatsapp', prefixes: ['+97798100'], providers: ['wa_unapproved'] },
        { channel: 'whatsapp', providers: ['wa'] },
        { channel: 'sms', providers: ['inbox'] },
      ],
    },
  });
  otpdUrl = await h.server.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(async () => {
  await wa?.close();
});

let phones = 0;
/** A Nepali mobile number no other test of this file uses. */
const nextPhone = (prefix = '+97798410') => `${prefix}${String(++phones).padStart(14 - prefix.length, '0')}`;

async function sendOtp(phone: string, extra: Record<string, unknown> = {}, key?: string) {
  const apiKey = key ?? (await h.tenant({ environment: 'live' })).key;
  const res = await h.call('POST', '/v1/otp/send', {
    key: apiKey,
    body: { phone, channel: 'whatsapp', ...extra },
  });
  expect(res.status).toBe(201);
  return { key: apiKey, otpId: res.body.data.otp_id as string };
}

const messagesOf = (otpId: string) =>
  h.ctx.store.db.selectFrom('messages').selectAll().where('otp_id', '=', otpId).orderBy('step').execute();

async function messageOf(otpId: string) {
  const [first] = await messagesOf(otpId);
  return first!;
}

/** The template Meta accepted for the OTP's (first) message. */
async function acceptedFor(otpId: string) {
  const accepted = wa.acceptedFor((await messageOf(otpId)).id);
  expect(accepted).toBeDefined();
  return accepted!;
}

const callbackUrl = (name = 'wa') => `${otpdUrl}/callbacks/${name}`;

const verify = (key: string, otpId: string, code: string) =>
  h.call('POST', '/v1/otp/verify', { key, body: { otp_id: otpId, code } });

describe('WhatsApp Cloud API delivery', () => {
  it('sends the authentication template with the code in the body and the copy-code button, then records the delivered webhook', async () => {
    const phone = nextPhone();
    const { key, otpId } = await sendOtp(phone, { locale: 'ne-NP' });
    await h.deliver();

    const message = await messageOf(otpId);
    const accepted = await acceptedFor(otpId);
    const code = accepted.bodyCode;
    expect(code).toMatch(/^[0-9]{6}$/);
    expect(accepted.raw).toEqual({
      messaging_product: 'whatsapp',
      recipient_type: 'individual',
      to: phone.slice(1),
      type: 'template',
      template: {
        name: 'otp_code',
        language: { code: 'ne_NP' },
        components: [
          { type: 'body', parameters: [{ type: 'text', text: code }] },
          { type: 'button', sub_type: 'url', index: '0', parameters: [{ type: 'text', text: code }] },
        ],
      },
      biz_opaque_callback_data: message.id,
    });
    expect(message).toMatchObject({
      channel: 'whatsapp',
      provider: 'wa',
      provider_message_id: accepted.wamid,
      status: 'sent',
    });

    const at = Math.floor(h.clock.now() / 1000) + 4;
    const res = await wa.post(callbackUrl(), wa.statusesOf(accepted, { status: 'delivered', timestamp: at }));
    expect(res.status).toBe(200);
    expect(await messageOf(otpId)).toMatchObject({
      status: 'delivered',
      delivered_at: at * 1000,
      error: null,
    });

    const verified = await verify(key, otpId, code);
    expect(verified.status).toBe(200);
    expect(verified.body.data.verified).toBe(true);
  });

  it('uses the locale only when the template is approved in it, else the default language', async () => {
    const { key } = await h.tenant({ environment: 'live' });
    const cases: [string | undefined, string][] = [
      [undefined, 'en_US'],
      ['vi-VN', 'en_US'],
      ['ne_np', 'ne_NP'],
      ['en-US', 'en_US'],
    ];
    for (const [locale, expected] of cases) {
      const { otpId } = await sendOtp(nextPhone(), locale ? { locale } : {}, key);
      await h.deliver();
      expect((await acceptedFor(otpId)).language, String(locale)).toBe(expected);
    }
  });

  it('answers the webhook subscription handshake only with the right verify token', async () => {
    const ok = await fetch(
      `${callbackUrl()}?hub.mode=subscribe&hub.verify_token=${VERIFY_TOKEN}&hub.challenge=1158201444`,
    );
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await ok.text()).toBe('1158201444');

    for (const query of [
      'hub.mode=subscribe&hub.verify_token=guessed&hub.challenge=1158201444',
      'hub.mode=subscribe&hub.challenge=1158201444',
      `hub.mode=unsubscribe&hub.verify_token=${VERIFY_TOKEN}&hub.challenge=1158201444`,
    ]) {
      const refused = await fetch(`${callbackUrl()}?${query}`);
      expect(refused.status, query).toBe(401);
      const body: any = await refused.json();
      expect(body.success).toBe(false);
      expect(body.error.code).toBe('INVALID_SIGNATURE');
      expect(JSON.stringify(body)).not.toContain('1158201444');
    }
  });

  it('refuses webhooks with a missing, wrong or tampered signature with 401 and changes nothing', async () => {
    const { otpId } = await sendOtp(nextPhone());
    await h.deliver();
    const accepted = await acceptedFor(otpId);
    const before = await messageOf(otpId);
    expect(before.status).toBe('sent');

    for (const signing of ['missing', 'wrong', 'tampered'] as const) {
      const res = await wa.post(callbackUrl(), wa.statusesOf(accepted, 'failed'), signing);
      expect(res.status, signing).toBe(401);
      expect(JSON.parse(res.body).error.code).toBe('INVALID_SIGNATURE');
    }
    expect(await messageOf(otpId)).toEqual(before);

    // The same webhook, signed as Meta signs it, is taken.
    const res = await wa.post(callbackUrl(), wa.statusesOf(accepted, 'delivered'));
    expect(res.status).toBe(200);
    expect((await messageOf(otpId)).status).toBe('delivered');
  });

  it('answers a signed body that is not JSON with 400 INVALID_REQUEST', async () => {
    const body = Buffer.from('{"object":"whatsapp_business_account","entry":[');
    const res = await fetch(callbackUrl(), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-hub-signature-256': wa.signature(body) },
      body,
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).error.code).toBe('INVALID_REQUEST');
  });

  it('marks the message failed on a failed status, with Meta’s error code and title', async () => {
    const { otpId } = await sendOtp(nextPhone());
    await h.deliver();
    const accepted = await acceptedFor(otpId);
    const res = await wa.post(
      callbackUrl(),
      wa.statusesOf(accepted, 'sent', {
        status: 'failed',
        errors: [{ code: 131026, title: 'Message undeliverable' }],
      }),
    );
    expect(res.status).toBe(200);
    expect(await messageOf(otpId)).toMatchObject({ status: 'failed', error: '131026 Message undeliverable' });
  });

  it('keeps a delivered message delivered when sent and read arrive after it', async () => {
    const { otpId } = await sendOtp(nextPhone());
    await h.deliver();
    const accepted = await acceptedFor(otpId);
    const t = Math.floor(h.clock.now() / 1000);
    for (const update of [
      { status: 'delivered' as const, timestamp: t + 5 },
      { status: 'sent' as const, timestamp: t + 1 },
      { status: 'read' as const, timestamp: t + 9 },
    ]) {
      expect((await wa.post(callbackUrl(), wa.statusesOf(accepted, update))).status).toBe(200);
    }
    expect(await messageOf(otpId)).toMatchObject({ status: 'delivered', delivered_at: (t + 5) * 1000 });
  });

  it('counts a read status that overtook its delivered one as the delivery', async () => {
    const { otpId } = await sendOtp(nextPhone());
    await h.deliver();
    const accepted = await acceptedFor(otpId);
    const t = Math.floor(h.clock.now() / 1000);
    await wa.post(callbackUrl(), wa.statusesOf(accepted, { status: 'read', timestamp: t + 7 }));
    await wa.post(callbackUrl(), wa.statusesOf(accepted, { status: 'delivered', timestamp: t + 6 }));
    expect(await messageOf(otpId)).toMatchObject({ status: 'delivered', delivered_at: (t + 7) * 1000 });
  });

  it('takes sent, delivered and read in one webhook in the order Meta lists them', async () => {
    const { otpId } = await sendOtp(nextPhone());
    await h.deliver();
    const accepted = await acceptedFor(otpId);
    const t = Math.floor(h.clock.now() / 1000);
    const res = await wa.post(
      callbackUrl(),
      wa.statusesOf(
        accepted,
        { status: 'sent', timestamp: t + 1 },
        { status: 'delivered', timestamp: t + 2 },
        { status: 'read', timestamp: t + 3 },
      ),
    );
    expect(res.status).toBe(200);
    expect(await messageOf(otpId)).toMatchObject({ status: 'delivered', delivered_at: (t + 2) * 1000 });
  });

  it.each([
    [429, 4, 'application request limit'],
    [400, 130429, 'throughput'],
    [400, 131056, 'pair rate limit'],
    [500, 131000, 'something went wrong'],
    [503, 2, 'service unavailable'],
  ])('retries a send Meta refused with HTTP %i code %i (%s) later', async (status, code) => {
    const { otpId } = await sendOtp(nextPhone());
    wa.failNext(1, { status, code });
    const requests = wa.requests;
    await h.deliver();
    expect(wa.requests).toBe(requests + 1);
    const waiting = await messageOf(otpId);
    expect(waiting).toMatchObject({ status: 'queued', provider_tries: 1 });
    expect(waiting.error).toContain(`(${code})`);

    h.clock.advance(3);
    await h.deliver();
    expect(wa.requests).toBe(requests + 2);
    expect(await messageOf(otpId)).toMatchObject({
      status: 'sent',
      provider_message_id: (await acceptedFor(otpId)).wamid,
    });
  });

  it.each([
    [400, 131026, 'message undeliverable'],
    [400, 131030, 'recipient not in allowed list'],
    [403, 200, 'permission'],
    [400, 132015, 'template paused'],
  ])(
    'fails a send Meta refused with HTTP %i code %i (%s) at once, without asking again',
    async (status, code) => {
      const { otpId } = await sendOtp(nextPhone());
      wa.failNext(1, { status, code });
      const requests = wa.requests;
      await h.deliver();
      const failed = await messageOf(otpId);
      expect(failed.status).toBe('failed');
      expect(failed.error).toContain(`(${code})`);
      h.clock.advance(60);
      await h.deliver();
      expect(wa.requests).toBe(requests + 1);
    },
  );

  it('reads Meta’s error code before the HTTP status', () => {
    expect(classifyGraphError(400, 130429)).toBe('retry');
    expect(classifyGraphError(500, 131026)).toBe('permanent');
    expect(classifyGraphError(500, 132001)).toBe('permanent');
    expect(classifyGraphError(502, 190)).toBe('permanent');
    expect(classifyGraphError(502, undefined)).toBe('retry');
    expect(classifyGraphError(400, 999999)).toBe('permanent');
  });

  it('fails at once when Meta refuses the access token (190), and says so in health', async () => {
    const { otpId } = await sendOtp(nextPhone('+97798000'));
    await h.deliver();
    const failed = await messageOf(otpId);
    expect(failed).toMatchObject({ status: 'failed', provider: 'wa_expired' });
    expect(failed.error).toContain('401 (190)');
    expect(h.delivery.providers.get('wa_expired')!.health!()).toMatchObject({ ok: false });
    expect(h.delivery.providers.get('wa')!.health!()).toEqual({ ok: true });
  });

  it('fails at once when the template is not approved in that name (132001)', async () => {
    const { otpId } = await sendOtp(nextPhone('+97798100'));
    await h.deliver();
    const failed = await messageOf(otpId);
    expect(failed).toMatchObject({ status: 'failed', provider: 'wa_unapproved' });
    expect(failed.error).toContain('(132001)');
  });

  it('records a send whose answer never came as unknown and does not send it again', async () => {
    const { otpId } = await sendOtp(nextPhone());
    wa.hangNext(1);
    const requests = wa.requests;
    await h.deliver();
    const unknown = await messageOf(otpId);
    expect(unknown).toMatchObject({ status: 'unknown', provider: 'wa', provider_message_id: null });
    expect(wa.acceptedFor(unknown.id)).toBeDefined(); // Meta has it
    h.clock.advance(59);
    await h.deliver();
    expect(wa.requests).toBe(requests + 1);
    expect((await messageOf(otpId)).status).toBe('unknown');
    // Meta reports every message it took within seconds: a minute of silence means it never had it.
    h.clock.advance(2);
    await h.deliver();
    expect(wa.requests).toBe(requests + 2);
    expect((await messageOf(otpId)).status).toBe('sent');
  });

  it('settles a message whose send answer was lost by the biz_opaque_callback_data of its webhooks', async () => {
    const { otpId } = await sendOtp(nextPhone());
    wa.hangNext(1);
    await h.deliver();
    expect((await messageOf(otpId)).status).toBe('unknown');
    const accepted = await acceptedFor(otpId);
    // Meta's wa_id may differ from the number sent to (a Brazilian ninth digit): only our id matches.
    const res = await wa.post(
      callbackUrl(),
      wa.statusesOf(accepted, { status: 'sent', recipient_id: '5511912345678' }),
    );
    expect(res.status).toBe(200);
    expect(await messageOf(otpId)).toMatchObject({ status: 'sent', provider_message_id: accepted.wamid });
    await wa.post(
      callbackUrl(),
      wa.statusesOf(accepted, { status: 'delivered', recipient_id: '5511912345678' }),
    );
    expect((await messageOf(otpId)).status).toBe('delivered');
  });
});

describe('channel fallback from WhatsApp to SMS', () => {
  const policy = {
    environment: 'live' as const,
    channels: ['sms' as const, 'whatsapp' as const],
    default_channel: 'whatsapp' as const,
    fallback_channels: ['sms' as const],
    fallback_after: 30,
  };

  async function sendDefault(phone: string) {
    const { key } = await h.tenant(policy);
    const res = await h.call('POST', '/v1/otp/send', { key, body: { phone } });
    expect(res.status).toBe(201);
    return { key, otpId: res.body.data.otp_id as string };
  }

  it('sends the same code by SMS when WhatsApp refuses the message for good', async () => {
    const phone = nextPhone();
    const { key, otpId } = await sendDefault(phone);
    wa.failNext(1, { status: 400, code: 131026 });
    const code = await codeFromInbox(h, phone);

    const [whatsapp, sms] = await messagesOf(otpId);
    expect(whatsapp).toMatchObject({ channel: 'whatsapp', step: 0, status: 'failed' });
    expect(sms).toMatchObject({ channel: 'sms', step: 1, provider: 'inbox', status: 'delivered' });
    const verified = await verify(key, otpId, code);
    expect(verified.status).toBe(200);
    expect(verified.body.data.verified).toBe(true);
  });

  it('sends the code by SMS when WhatsApp took it but no delivered webhook came within fallback_after', async () => {
    const phone = nextPhone();
    const { key, otpId } = await sendDefault(phone);
    await h.deliver();
    const accepted = await acceptedFor(otpId);
    expect((await messageOf(otpId)).status).toBe('sent');

    h.clock.advance(29);
    await h.deliver();
    expect(await h.inbox(phone)).toHaveLength(0);

    h.clock.advance(2);
    const code = await codeFromInbox(h, phone);
    expect(code).toBe(accepted.bodyCode);
    const [whatsapp, sms] = await messagesOf(otpId);
    expect(whatsapp).toMatchObject({ status: 'sent', fallback_at: null });
    expect(sms).toMatchObject({ channel: 'sms', step: 1, status: 'delivered' });
    expect((await verify(key, otpId, code)).body.data.verified).toBe(true);
  });

  it('sends no SMS when WhatsApp reports delivery in time', async () => {
    const phone = nextPhone();
    const { otpId } = await sendDefault(phone);
    await h.deliver();
    const accepted = await acceptedFor(otpId);
    h.clock.advance(10);
    expect((await wa.post(callbackUrl(), wa.statusesOf(accepted, 'delivered'))).status).toBe(200);

    h.clock.advance(31);
    await h.deliver();
    expect(await h.inbox(phone)).toHaveLength(0);
    const messages = await messagesOf(otpId);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({ status: 'delivered', fallback_at: null });
  });
});

describe('whatsapp settings', () => {
  const config = (wa: Record<string, unknown>) => ({
    providers: { wa: { type: 'whatsapp', ...wa } },
    routes: [{ channel: 'whatsapp', providers: ['wa'] }],
  });

  it('fills the defaults and names the bad key', () => {
    const checked = checkDeliveryConfig(
      config({ phone_number_id: 106540352242922, access_token: 'env:WA_TOKEN' }),
      PROVIDER_SCHEMAS,
      { WA_TOKEN: 'EAAG' },
    );
    expect(checked.providers.wa).toMatchObject({
      phone_number_id: '106540352242922',
      access_token: 'EAAG',
      template: 'otp_code',
      language: 'en_US',
      api_version: 'v21.0',
      base_url: 'https://graph.facebook.com',
    });
    expect(() => checkDeliveryConfig(config({ access_token: 'x' }), PROVIDER_SCHEMAS)).toThrow(
      /providers\.wa\.phone_number_id is required/,
    );
    expect(() =>
      checkDeliveryConfig(
        config({ phone_number_id: '1', access_token: 'x', language: 'ne-NP' }),
        PROVIDER_SCHEMAS,
      ),
    ).toThrow(/providers\.wa\.language/);
    expect(() =>
      checkDeliveryConfig(config({ phone_number_id: '1', access_token: 'x', secret: 'x' }), PROVIDER_SCHEMAS),
    ).toThrow(/providers\.wa\.secret is not a known setting/);
  });
});

describe('the whatsapp provider on its own', () => {
  const deps: ProviderDeps = {
    receipts: async () => {},
    log: pino({ level: 'silent' }),
    callbackUrl: null,
    now: () => Date.now(),
    sign: (v) => v,
    verify: () => false,
  };
  const message = (extra: Partial<OutboundMessage> = {}): OutboundMessage => ({
    id: 'msg_standalone',
    app_id: 'app_x',
    otp_id: 'otp_x',
    environment: 'live',
    channel: 'whatsapp',
    phone: '+9779841999999',
    sender_id: null,
    text: 'Your code is 424242.',
    code: '424242',
    locale: null,
    ...extra,
  });
  const provider = (baseUrl: string) =>
    whatsappProvider.create(
      'solo',
      {
        type: 'whatsapp',
        phone_number_id: PHONE_NUMBER_ID,
        access_token: ACCESS_TOKEN,
        template: 'otp_code',
        language: 'en_US',
        api_version: 'v21.0',
        base_url: baseUrl,
        timeout: 1,
      },
      deps,
    );
  const failure = async (promise: Promise<unknown>) => {
    const error = await promise.then(
      () => undefined,
      (e) => e,
    );
    expect(error).toBeInstanceOf(ProviderError);
    return error as ProviderError;
  };

  it('refuses a message without a code (transactional SMS) or with one over 15 characters as permanent, without a request', async () => {
    const requests = wa.requests;
    expect((await failure(provider(wa.url).send(message({ code: null })))).kind).toBe('permanent');
    const long = await failure(provider(wa.url).send(message({ code: 'A234567890123456' })));
    expect(long.kind).toBe('permanent');
    expect(long.message).not.toContain('A234567890123456');
    expect(wa.requests).toBe(requests);
  });

  it('retries when Meta cannot be reached at all', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as { port: number };
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const error = await failure(provider(`http://127.0.0.1:${port}`).send(message()));
    expect(error).toMatchObject({ kind: 'retry', code: 'ECONNREFUSED' });
  });

  it('calls the outcome unknown when the connection drops after the request left', async () => {
    wa.dropNext(1);
    const error = await failure(provider(wa.url).send(message()));
    expect(error.kind).toBe('unknown');
    expect(error.message).not.toContain('424242');
  });

  it('skips statuses of another phone number of the same Meta app and ignores inbound messages', async () => {
    const seen: Receipt[] = [];
    const solo = whatsappProvider.create(
      'solo',
      {
        type: 'whatsapp',
        phone_number_id: '999000111',
        access_token: ACCESS_TOKEN,
        app_secret: APP_SECRET,
        template: 'otp_code',
        language: 'en_US',
        api_version: 'v21.0',
        base_url: wa.url,
      },
      { ...deps, receipts: async (r) => void seen.push(r) },
    );
    const { body, headers } = wa.webhook([
      { id: 'wamid.x', status: 'delivered', recipient_id: '9779841999999' },
    ]);
    const answer = await solo.handleCallback!({
      method: 'POST',
      url: '',
      query: {},
      headers,
      body,
      ip: '127.0.0.1',
    });
    expect(answer.status).toBe(200);
    expect(seen).toHaveLength(0);

    const inbound = Buffer.from(
      JSON.stringify({
        object: 'whatsapp_business_account',
        entry: [
          {
            id: '1',
            changes: [
              {
                field: 'messages',
                value: {
                  messaging_product: 'whatsapp',
                  metadata: { phone_number_id: '999000111' },
                  contacts: [{ wa_id: '9779841999999', profile: { name: 'Sita' } }],
                  messages: [{ id: 'wamid.in', from: '9779841999999', type: 'text', text: { body: 'hi' } }],
                },
              },
            ],
          },
        ],
      }),
    );
    const signed = { 'x-hub-signature-256': wa.signature(inbound) };
    const ok = await solo.handleCallback!({
      method: 'POST',
      url: '',
      query: {},
      headers: signed,
      body: inbound,
      ip: '127.0.0.1',
    });
    expect(ok.status).toBe(200);
    expect(seen).toHaveLength(0);
  });
});
