import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkDeliveryConfig } from '../../src/delivery/config.js';
import { buildDelivery, PROVIDER_SCHEMAS } from '../../src/delivery/registry.js';
import { createHarness, type Harness } from '../harness.js';
import { type CallbackTransport, parseXml, TwilioServer, type XmlNode } from '../support/twilio-server.js';

const PUBLIC_URL = 'https://otpd.example.com';
const ACCOUNT = `AC${'1a'.repeat(16)}`;
const TOKEN = 'twilio-auth-token-0123456789abcdef';
const OTHER_ACCOUNT = `AC${'2b'.repeat(16)}`;
const OTHER_TOKEN = 'twilio-auth-token-fedcba9876543210';
const FROM = '+15005550006';
const WHATSAPP_FROM = '+14155238886';
const SERVICE = `MG${'3c'.repeat(16)}`;

/** Twilio posts to the public URL; nothing listens there, so the request is handed to the server in-process. */
let h: Harness;
const inject: CallbackTransport = async (url, headers, body) => {
  const { pathname, search } = new URL(url);
  const res = await h.server.inject({ method: 'POST', url: pathname + search, headers, payload: body });
  return { status: res.statusCode, body: res.body };
};

let twilio: TwilioServer;
let bad: TwilioServer;
let good: TwilioServer;
let closedPort: number;

/** A port nothing listens on: connecting is refused. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const provider = (server: TwilioServer, extra: Record<string, unknown> = {}) => ({
  type: 'twilio',
  account_sid: server.options.accountSid,
  auth_token: server.options.authToken,
  from: FROM,
  base_url: server.url,
  ...extra,
});

beforeAll(async () => {
  twilio = await TwilioServer.start({
    accountSid: ACCOUNT,
    authToken: TOKEN,
    numbers: [FROM, WHATSAPP_FROM],
    transport: inject,
  });
  bad = await TwilioServer.start({ accountSid: ACCOUNT, authToken: TOKEN, transport: inject });
  good = await TwilioServer.start({ accountSid: OTHER_ACCOUNT, authToken: OTHER_TOKEN, transport: inject });
  closedPort = await freePort();
  h = await createHarness({
    delivery: {
      public_url: PUBLIC_URL,
      reconcile_after: 300,
      providers: {
        twilio: provider(twilio, { whatsapp_from: WHATSAPP_FROM }),
        twilio_bad: provider(bad),
        twilio_good: provider(good),
        twilio_slow: provider(twilio, { timeout: 0.5 }),
        twilio_down: provider(twilio, { base_url: `http://127.0.0.1:${closedPort}` }),
        twilio_locked: provider(twilio, { auth_token: 'not-the-auth-token' }),
        twilio_service: provider(twilio, { from: undefined, messaging_service_sid: SERVICE }),
      },
      routes: [
        { prefixes: ['+97798419'], providers: ['twilio_bad', 'twilio_good'] },
        { prefixes: ['+97798418'], providers: ['twilio_slow'] },
        { prefixes: ['+97798417'], providers: ['twilio_down'] },
        { prefixes: ['+97798416'], providers: ['twilio_locked'] },
        { prefixes: ['+97798415'], providers: ['twilio_service'] },
        { providers: ['twilio'] },
      ],
    },
  });
});

afterAll(async () => {
  await Promise.all([twilio?.close(), bad?.close(), good?.close()]);
});

let phoneSeq = 0;
/** A fresh Nepali mobile number under a route prefix. */
const phoneUnder = (prefix = '+97798412') => `${prefix}${String(++phoneSeq).padStart(5, '0')}`;

async function sendOtp(phone: string, body: Record<string, unknown> = {}) {
  const { key } = await h.tenant({ environment: 'live', allow_custom_code: true });
  const res = await h.call('POST', '/v1/otp/send', { key, body: { phone, code: '481526', ...body } });
  expect(res.status).toBe(201);
  return { key, otpId: res.body.data.otp_id as string };
}

const messageOf = (otpId: string) =>
  h.ctx.store.db.selectFrom('messages').selectAll().where('otp_id', '=', otpId).executeTakeFirstOrThrow();

const otpStatus = async (key: string, otpId: string) =>
  (await h.call('GET', `/v1/otp/${otpId}`, { key })).body.data.status as string;

const textOf = (node: XmlNode): string =>
  node.children.map((c) => (typeof c === 'string' ? c : textOf(c))).join('');

describe('Twilio SMS', () => {
  it('sends the form Twilio expects and settles the message from the signed status callback', async () => {
    const phone = phoneUnder();
    const { key, otpId } = await sendOtp(phone);
    await h.deliver();

    const [request] = twilio.requestsTo('Messages').filter((r) => r.form.To === phone);
    expect(request).toMatchObject({
      method: 'POST',
      path: `/2010-04-01/Accounts/${ACCOUNT}/Messages.json`,
      authorized: true,
      contentType: 'application/x-www-form-urlencoded',
      status: 201,
    });
    const message = await messageOf(otpId);
    expect(request!.form).toEqual({
      To: phone,
      From: FROM,
      Body: expect.stringContaining('481526'),
      StatusCallback: expect.stringMatching(
        new RegExp(`^${PUBLIC_URL}/callbacks/twilio\\?message_id=${message.id}&token=[\\w-]+$`),
      ),
    });
    const resource = twilio.resource(phone)!;
    expect(resource.sid).toMatch(/^SM[0-9a-f]{32}$/);
    expect(message).toMatchObject({
      status: 'sent',
      provider: 'twilio',
      provider_message_id: resource.sid,
      segments: 1,
    });

    // Intermediate statuses change nothing; `sent` keeps it sent.
    expect((await twilio.callback(resource.sid, { status: 'queued' })).status).toBe(204);
    expect((await twilio.callback(resource.sid, { status: 'sent' })).status).toBe(204);
    expect(await messageOf(otpId)).toMatchObject({ status: 'sent', delivered_at: null });

    expect((await twilio.callback(resource.sid, { status: 'delivered' })).status).toBe(204);
    expect(await messageOf(otpId)).toMatchObject({
      status: 'delivered',
      provider_message_id: resource.sid,
      delivered_at: expect.any(Number),
    });
    expect(await otpStatus(key, otpId)).toBe('pending');
  });

  it('counts the segments Twilio reports for a long text', async () => {
    const phone = phoneUnder();
    const { otpId } = await sendOtp(phone, { message: `${'Long text. '.repeat(20)}Code {code}.` });
    await h.deliver();
    expect(twilio.resource(phone)!.segments).toBe(2);
    expect(await messageOf(otpId)).toMatchObject({ status: 'sent', segments: 2 });
  });

  it("fails the message and the OTP on an undelivered callback, with Twilio's error code", async () => {
    const phone = phoneUnder();
    const { key, otpId } = await sendOtp(phone);
    await h.deliver();
    const resource = twilio.resource(phone)!;
    const res = await twilio.callback(resource.sid, { status: 'undelivered', errorCode: '30008' });
    expect(res.status).toBe(204);
    expect(await messageOf(otpId)).toMatchObject({
      status: 'failed',
      error: '30008',
      failed_at: expect.any(Number),
    });
    expect(await otpStatus(key, otpId)).toBe('failed');
  });
});

describe('Twilio Messaging Service', () => {
  it('lets the service pick the sender, and offers no voice without a number to call from', async () => {
    const phone = phoneUnder('+97798415');
    const { otpId } = await sendOtp(phone);
    await h.deliver();
    const [request] = twilio.requestsTo('Messages').filter((r) => r.form.To === phone);
    expect(request!.form).toMatchObject({ To: phone, MessagingServiceSid: SERVICE });
    expect(request!.form.From).toBeUndefined();
    expect(await messageOf(otpId)).toMatchObject({
      status: 'sent',
      provider_message_id: twilio.resource(phone)!.sid,
    });
    expect(h.delivery.providers.get('twilio_service')!.channels).toEqual(['sms']);
    expect(h.delivery.providers.get('twilio')!.channels).toEqual(['sms', 'whatsapp', 'voice']);
  });
});

describe('Twilio WhatsApp', () => {
  it('sends to and from whatsapp: addresses on the Messages endpoint', async () => {
    const phone = phoneUnder();
    const { otpId } = await sendOtp(phone, { channel: 'whatsapp' });
    await h.deliver();
    const resource = twilio.resource(phone)!;
    expect(resource).toMatchObject({
      kind: 'message',
      to: `whatsapp:${phone}`,
      from: `whatsapp:${WHATSAPP_FROM}`,
    });
    expect(resource.body).toContain('481526');
    expect(await messageOf(otpId)).toMatchObject({
      status: 'sent',
      channel: 'whatsapp',
      provider_message_id: resource.sid,
    });
    expect((await twilio.callback(resource.sid, { status: 'read' })).status).toBe(204);
    expect(await messageOf(otpId)).toMatchObject({ status: 'delivered' });
  });
});

describe('Twilio voice', () => {
  it('calls with TwiML that says the code digit by digit, twice, in the locale, XML-escaped', async () => {
    const phone = phoneUnder();
    const { otpId } = await sendOtp(phone, {
      channel: 'voice',
      locale: 'ne-NP',
      message: 'Tom & Jerry\'s <Bank> "Co": your code is {code}.',
    });
    await h.deliver();
    const [request] = twilio.requestsTo('Calls').filter((r) => r.form.To === phone);
    const message = await messageOf(otpId);
    expect(request).toMatchObject({ path: `/2010-04-01/Accounts/${ACCOUNT}/Calls.json`, status: 201 });
    expect(request!.form).toMatchObject({
      To: phone,
      From: FROM,
      StatusCallback: expect.stringContaining(`/callbacks/twilio?message_id=${message.id}&token=`),
      StatusCallbackEvent: 'completed',
    });
    const twiml = request!.form.Twiml!;
    expect(twiml).not.toContain('481526');
    expect(twiml).toContain('&lt;Bank&gt;');
    const root = parseXml(twiml);
    const says = root.children.filter((c): c is XmlNode => typeof c !== 'string' && c.name === 'Say');
    expect(says).toHaveLength(2);
    for (const say of says) {
      expect(say.attrs.language).toBe('ne-NP');
      expect(textOf(say)).toBe('Tom & Jerry\'s <Bank> "Co": your code is 4, 8, 1, 5, 2, 6.');
    }
    const resource = twilio.resource(phone)!;
    expect(resource.sid).toMatch(/^CA[0-9a-f]{32}$/);
    expect(message).toMatchObject({ status: 'sent', channel: 'voice', provider_message_id: resource.sid });

    expect((await twilio.callback(resource.sid, { status: 'completed' })).status).toBe(204);
    expect(await messageOf(otpId)).toMatchObject({ status: 'delivered' });
  });

  it('speaks English when the send has no locale, and fails the call nobody answered', async () => {
    const phone = phoneUnder();
    const { otpId } = await sendOtp(phone, { channel: 'voice' });
    await h.deliver();
    const resource = twilio.resource(phone)!;
    expect(parseXml(resource.twiml!).children).toContainEqual(
      expect.objectContaining({ name: 'Say', attrs: { language: 'en-US' } }),
    );
    expect((await twilio.callback(resource.sid, { status: 'no-answer' })).status).toBe(204);
    expect(await messageOf(otpId)).toMatchObject({ status: 'failed', error: 'no-answer' });
  });
});

describe('Twilio status callbacks: security', () => {
  let otpId: string;
  let sid: string;
  beforeAll(async () => {
    const phone = phoneUnder();
    ({ otpId } = await sendOtp(phone));
    await h.deliver();
    sid = twilio.resource(phone)!.sid;
  });

  const expectRefused = async (res: { status: number; body: string }) => {
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body)).toMatchObject({ success: false, error: { code: 'INVALID_SIGNATURE' } });
    expect(await messageOf(otpId)).toMatchObject({ status: 'sent', delivered_at: null, failed_at: null });
  };

  it('refuses a callback without X-Twilio-Signature', async () => {
    await expectRefused(await twilio.callback(sid, { status: 'delivered', signature: 'missing' }));
  });

  it('refuses a callback signed with another token', async () => {
    await expectRefused(await twilio.callback(sid, { status: 'delivered', signature: 'wrong' }));
  });

  it('refuses a callback whose body was changed after signing', async () => {
    await expectRefused(
      await twilio.callback(sid, { status: 'delivered', tamper: { MessageStatus: 'failed' } }),
    );
    await expectRefused(await twilio.callback(sid, { status: 'failed', tamper: { ErrorCode: '30003' } }));
  });

  it('refuses a properly signed callback whose message id does not carry its token', async () => {
    const resource = twilio.created.find((r) => r.sid === sid)!;
    const url = new URL(resource.statusCallback!);
    url.searchParams.set('token', 'forged-token-000000000000000000000');
    await expectRefused(await twilio.callback(sid, { status: 'failed', url: url.toString() }));
    url.searchParams.delete('token');
    await expectRefused(await twilio.callback(sid, { status: 'failed', url: url.toString() }));
  });

  it('refuses a callback whose URL was signed for another host', async () => {
    const resource = twilio.created.find((r) => r.sid === sid)!;
    const elsewhere = resource.statusCallback!.replace(PUBLIC_URL, 'https://attacker.example');
    const signedElsewhere = await twilio.callback(sid, { status: 'failed', url: elsewhere });
    await expectRefused(signedElsewhere);
  });

  it('accepts a signature over the URL with its default port, as Twilio may sign it', async () => {
    const resource = twilio.created.find((r) => r.sid === sid)!;
    const withPort = resource.statusCallback!.replace(PUBLIC_URL, `${PUBLIC_URL}:443`);
    expect((await twilio.callback(sid, { status: 'sent', url: withPort })).status).toBe(204);
    expect(await messageOf(otpId)).toMatchObject({ status: 'sent' });
  });

  it('takes the same callback once it is signed right', async () => {
    expect((await twilio.callback(sid, { status: 'delivered' })).status).toBe(204);
    expect(await messageOf(otpId)).toMatchObject({ status: 'delivered' });
  });
});

describe('Twilio failures', () => {
  it('retries 429 and 5xx answers on the same provider, then sends', async () => {
    const phone = phoneUnder();
    twilio.failNext(1, 429, 20429, 'Too Many Requests');
    twilio.failNext(1, 503, 20503, 'Service Unavailable');
    const { otpId } = await sendOtp(phone);
    await h.deliver();
    expect(await messageOf(otpId)).toMatchObject({
      status: 'queued',
      error: expect.stringContaining('20429'),
    });
    h.clock.advance(3);
    await h.deliver();
    expect(await messageOf(otpId)).toMatchObject({ status: 'queued', error: expect.stringContaining('503') });
    h.clock.advance(11);
    await h.deliver();
    const requests = twilio.requestsTo('Messages').filter((r) => r.form.To === phone);
    expect(requests.map((r) => r.status)).toEqual([429, 503, 201]);
    expect(await messageOf(otpId)).toMatchObject({
      status: 'sent',
      provider_message_id: twilio.resource(phone)!.sid,
    });
  });

  it('fails at once on 400 21211 and never sends again', async () => {
    const phone = phoneUnder();
    twilio.failNext(1, 400, 21211, "Invalid 'To' Phone Number");
    const { key, otpId } = await sendOtp(phone);
    await h.deliver();
    expect(await messageOf(otpId)).toMatchObject({
      status: 'failed',
      error: expect.stringContaining('21211'),
    });
    expect(await otpStatus(key, otpId)).toBe('failed');
    h.clock.advance(60);
    await h.deliver();
    expect(twilio.requestsTo('Messages').filter((r) => r.form.To === phone)).toHaveLength(1);
  });

  it('falls over to the next Twilio account of the route on a permanent refusal', async () => {
    const phone = phoneUnder('+97798419');
    bad.failNext(1, 400, 21408, 'Permission to send an SMS has not been enabled for the region');
    const { otpId } = await sendOtp(phone);
    await h.deliver();
    expect(bad.requestsTo('Messages').map((r) => r.status)).toEqual([400]);
    const resource = good.resource(phone)!;
    expect(good.requests.at(-1)).toMatchObject({
      path: `/2010-04-01/Accounts/${OTHER_ACCOUNT}/Messages.json`,
      authorized: true,
    });
    expect(resource.statusCallback).toContain(`${PUBLIC_URL}/callbacks/twilio_good?`);
    expect(await messageOf(otpId)).toMatchObject({
      status: 'sent',
      provider: 'twilio_good',
      provider_message_id: resource.sid,
    });
    // Each account signs with its own token: the good account's callback settles it.
    expect((await good.callback(resource.sid, { status: 'delivered' })).status).toBe(204);
    expect(await messageOf(otpId)).toMatchObject({ status: 'delivered' });
  });

  it('fails permanently when Twilio refuses the credentials', async () => {
    const phone = phoneUnder('+97798416');
    const { otpId } = await sendOtp(phone);
    await h.deliver();
    expect(twilio.requests.filter((r) => r.form.To === phone)).toMatchObject([
      { authorized: false, status: 401 },
    ]);
    expect(await messageOf(otpId)).toMatchObject({
      status: 'failed',
      error: expect.stringContaining('20003'),
    });
    expect(h.delivery.providers.get('twilio_locked')!.health!()).toMatchObject({ ok: false });
  });

  it('retries when Twilio cannot be reached', async () => {
    const phone = phoneUnder('+97798417');
    const { otpId } = await sendOtp(phone);
    await h.deliver();
    expect(await messageOf(otpId)).toMatchObject({
      status: 'queued',
      error: expect.stringContaining('ECONNREFUSED'),
    });
  });

  it('records a connection cut after the request left as unknown, not to be resent', async () => {
    const phone = phoneUnder();
    twilio.dropNext(1);
    const { otpId } = await sendOtp(phone);
    await h.deliver();
    expect(await messageOf(otpId)).toMatchObject({ status: 'unknown', provider: 'twilio' });
    h.clock.advance(120);
    await h.deliver();
    expect(twilio.requestsTo('Messages').filter((r) => r.form.To === phone)).toHaveLength(1);
    const resource = twilio.resource(phone)!;
    expect((await twilio.callback(resource.sid, { status: 'sent' })).status).toBe(204);
    expect(await messageOf(otpId)).toMatchObject({ status: 'sent', provider_message_id: resource.sid });
  });

  it('records a hung request as unknown, never resends it, and settles it by the later callback', async () => {
    const phone = phoneUnder('+97798418');
    twilio.hangNext(1);
    const { otpId } = await sendOtp(phone);
    const started = Date.now();
    await h.deliver();
    expect(Date.now() - started).toBeLessThan(2000); // the provider's own 0.5 s, not the last-resort timeout
    expect(await messageOf(otpId)).toMatchObject({ status: 'unknown', provider: 'twilio_slow' });
    const requests = () => twilio.requestsTo('Messages').filter((r) => r.form.To === phone);
    expect(requests()).toHaveLength(1);

    h.clock.advance(120);
    await h.deliver();
    expect(requests()).toHaveLength(1);

    const resource = twilio.resource(phone)!;
    expect(resource.statusCallback).toContain('/callbacks/twilio_slow?message_id=');
    expect((await twilio.callback(resource.sid, { status: 'delivered' })).status).toBe(204);
    expect(await messageOf(otpId)).toMatchObject({ status: 'delivered', provider_message_id: resource.sid });
    h.clock.advance(600);
    await h.deliver();
    expect(requests()).toHaveLength(1);
  });
});

describe('Twilio configuration', () => {
  const check = (settings: Record<string, unknown>) =>
    checkDeliveryConfig(
      { providers: { tw: { type: 'twilio', ...settings } }, routes: [{ providers: ['tw'] }] },
      PROVIDER_SCHEMAS,
      { TW_TOKEN: 'from-the-environment' },
    );

  it('names the bad key', () => {
    expect(() => check({ account_sid: 'nope', auth_token: 'x', from: FROM })).toThrow(
      /providers\.tw\.account_sid/,
    );
    expect(() => check({ account_sid: ACCOUNT, auth_token: 'x', from: FROM, form: FROM })).toThrow(
      /providers\.tw\.form is not a known setting/,
    );
    expect(() => check({ account_sid: ACCOUNT, auth_token: 'x', from: FROM, whatsapp_from: '0800' })).toThrow(
      /providers\.tw\.whatsapp_from/,
    );
  });

  it('refuses a provider with neither from nor messaging_service_sid', () => {
    const config = check({ account_sid: ACCOUNT, auth_token: 'x' });
    expect(() => buildDelivery(h.ctx, config)).toThrow('providers.tw: set from or messaging_service_sid.');
  });

  it('reads the token from the environment and defaults the base URL', () => {
    const config = check({ account_sid: ACCOUNT, auth_token: 'env:TW_TOKEN', from: FROM });
    expect(config.providers.tw).toMatchObject({
      auth_token: 'from-the-environment',
      base_url: 'https://api.twilio.com',
    });
  });
});
