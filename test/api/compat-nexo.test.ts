import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, createHarness, type Harness, parallel, type Response, tally } from '../harness.js';

/**
 * /compat/nexo: NEXO ROUTE's send-otp (nexo-route-web3-wallets.txt). The
 * reference's TypeScript sample runs as written, against a listening otpd,
 * with only the base URL changed.
 */

let h: Harness;
let base: string;
beforeAll(async () => {
  h = await createHarness();
  base = `${await h.server.listen({ host: '127.0.0.1', port: 0 })}/compat/nexo`;
});
afterAll(() => {
  delete process.env.NEXO_KEY;
});

/** The wallet's own store of challenges, as the sample's `db.otpChallenge`. */
const challenges: { userId: string; codeHash: string; expiresAt: Date }[] = [];
const db = { otpChallenge: { create: async (row: (typeof challenges)[number]) => challenges.push(row) } };

// The reference's sample, verbatim but for the base URL.
async function sendWalletOtp(userId: string, phone: string) {
  const code = crypto.randomInt(100000, 999999).toString();
  await db.otpChallenge.create({
    userId,
    codeHash: crypto.createHash('sha256').update(code).digest('hex'),
    expiresAt: new Date(Date.now() + 5 * 60_000),
  });

  const res = await fetch(`${base}/api/v1/send-otp`, {
    method: 'POST',
    headers: {
      Authorization: `Bearer ${process.env.NEXO_KEY}`,
      'Content-Type': 'application/json',
    },
    body: JSON.stringify({ phone, code }),
  });
  return res.json();
}

let phones = 0;
/** A Vietnamese mobile number no other test of this file uses. */
const nextPhone = () => `+8491${String(++phones).padStart(7, '0')}`;

const send = (key: string, body: unknown) => h.call('POST', '/compat/nexo/api/v1/send-otp', { key, body });

function expectError(res: Response, status: number, error: string, extras: Record<string, unknown> = {}) {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.body).toEqual({ success: false, error, message: expect.any(String), ...extras });
}

const wallet = (policy: Record<string, unknown> = {}) =>
  h.tenant({ environment: 'live', allow_custom_code: true, default_country: 'VN', ...policy });

describe('the reference sample', () => {
  it("delivers the wallet's own code, which the wallet then checks against its hash", async () => {
    const { key } = await wallet();
    process.env.NEXO_KEY = key;
    const phone = nextPhone();
    const answer = (await sendWalletOtp('user-1', phone)) as { id: string };
    expect(answer).toEqual({
      success: true,
      id: expect.stringMatching(/^otp_/),
      phone,
      status: 'queued',
      expires_at: new Date(h.clock.now() + 300_000).toISOString(),
    });

    await h.deliver();
    const [sms] = await h.inbox(phone);
    const typed = sms!.text.match(/code is (\d{6})/)![1]!;
    // The wallet's check: the delivered code is the one it generated.
    expect(crypto.createHash('sha256').update(typed).digest('hex')).toBe(challenges.at(-1)!.codeHash);
    expect(JSON.stringify(answer)).not.toContain(typed);

    // Its delivery is visible by the OTP id (what the delivery webhooks carry).
    const record = await h.call('GET', `/v1/otp/${answer.id}`, { key });
    expect(record.body.data).toMatchObject({ delivery_status: 'delivered', status: 'pending' });
    expect(JSON.stringify(record.body)).not.toContain(typed);
  });

  it('refuses with 403 CUSTOM_CODE_NOT_ALLOWED when the app does not take caller codes, sending nothing', async () => {
    const { key } = await wallet({ allow_custom_code: false });
    process.env.NEXO_KEY = key;
    const phone = nextPhone();
    const answer = await sendWalletOtp('user-2', phone);
    expect(answer).toEqual({
      success: false,
      error: 'CUSTOM_CODE_NOT_ALLOWED',
      message: expect.stringContaining('allow_custom_code'),
    });
    await h.deliver();
    expect(await h.inbox(phone)).toEqual([]);
    expect((await h.call('GET', '/v1/otp', { key })).body.data.items).toEqual([]);
  });

  it('refuses a missing or wrong key with 401', async () => {
    process.env.NEXO_KEY = 'otpd_live_not-a-key';
    expect(await sendWalletOtp('user-3', nextPhone())).toEqual({
      success: false,
      error: 'INVALID_API_KEY',
      message: expect.any(String),
    });
  });
});

describe('send-otp', () => {
  it('sends the fixed sandbox code instead of the caller code in sandbox', async () => {
    const { key } = await wallet({ environment: 'sandbox' });
    const phone = nextPhone();
    expect((await send(key, { phone, code: '482910' })).status).toBe(200);
    await h.deliver();
    expect((await h.inbox(phone))[0]!.text).toContain('code is 123456');
  });

  it('reads national numbers with the app default country', async () => {
    const { key } = await wallet();
    const res = await send(key, { phone: '0912345678', code: '4829' });
    expect(res.body.phone).toBe('+84912345678');
  });

  it('keeps apps apart: a pending code in one app does not block another', async () => {
    const a = await wallet();
    const b = await wallet();
    const phone = nextPhone();
    expect((await send(a.key, { phone, code: '111111' })).status).toBe(200);
    expect((await send(b.key, { phone, code: '222222' })).status).toBe(200);
  });

  it('refuses a second code while one is pending, with its id and retry_after', async () => {
    const { key } = await wallet();
    const phone = nextPhone();
    const first = await send(key, { phone, code: '111111' });
    h.clock.advance(30);
    const second = await send(key, { phone, code: '222222' });
    expectError(second, 409, 'ACTIVE_OTP_EXISTS', { id: first.body.id, retry_after: 270 });
    expect(second.headers['retry-after']).toBe('270');
    expect(JSON.stringify(second.body)).not.toContain('111111');
  });

  it('refuses past a rate limit with 429 and retry_after', async () => {
    const { key } = await wallet({ limits: { phone_hour: { max: 1, window: 3600 } } });
    const phone = nextPhone();
    const first = await send(key, { phone, code: '111111' });
    await h.call('POST', `/v1/otp/${first.body.id}/cancel`, { key });
    expectError(await send(key, { phone, code: '222222' }), 429, 'RATE_LIMIT_EXCEEDED', {
      retry_after: 3600,
      scope: 'phone_hour',
    });
  });

  it('refuses with 402 INSUFFICIENT_BALANCE when the wallet cannot pay, sending nothing', async () => {
    const price = await h.server.inject({
      method: 'PUT',
      url: '/admin/v1/prices',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      payload: { channel: 'sms', country: 'TH', price: 22_000 },
    });
    expect(price.statusCode).toBe(200);
    const { key } = await wallet({ default_country: 'TH' });
    const phone = '+66812345678';
    expectError(await send(key, { phone, code: '482910' }), 402, 'INSUFFICIENT_BALANCE');
    await h.deliver();
    expect(await h.inbox(phone)).toEqual([]);
  });

  it.each([
    [{ phone: '+84912345670', code: '12ab!' }, 'INVALID_REQUEST', 'code'],
    [{ phone: '+84912345670', code: '123' }, 'INVALID_REQUEST', 'code'],
    [{ phone: '+84912345670', code: '123456789' }, 'INVALID_REQUEST', 'code'],
    [{ phone: '+84912345670' }, 'INVALID_REQUEST', 'code'],
    [{ code: '482910' }, 'INVALID_REQUEST', 'phone'],
    [{ phone: '+84912345670', code: '482910', channel: 'sms' }, 'INVALID_REQUEST', 'channel'],
    [{ phone: '12', code: '482910' }, 'INVALID_REQUEST', 'phone'],
    [{ phone: 'not a phone', code: '482910' }, 'INVALID_PHONE_FORMAT', 'phone'],
  ])('refuses %j with 400 %s about %s', async (body, error, field) => {
    const { key } = await wallet();
    expectError(await send(key, body), 400, error, { field });
  });

  it('refuses malformed JSON in its own shape', async () => {
    const { key } = await wallet();
    const res = await h.server.inject({
      method: 'POST',
      url: '/compat/nexo/api/v1/send-otp',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      payload: '{"phone":',
    });
    expectError({ status: res.statusCode, headers: {}, body: res.json() }, 400, 'INVALID_JSON');
  });

  it('answers unknown paths (there is no verify: the wallet verifies) with 404', async () => {
    const { key } = await wallet();
    expectError(await h.call('POST', '/compat/nexo/api/v1/verify-otp', { key, body: {} }), 404, 'NOT_FOUND');
  });

  it('of parallel sends to one number exactly one is queued', async () => {
    const { key } = await wallet();
    const phone = nextPhone();
    const answers = await parallel(6, (i) => send(key, { phone, code: `90000${i}` }));
    expect(
      tally(answers.map((a) => ({ ...a, body: { success: a.body.success, error: { code: a.body.error } } }))),
    ).toEqual({
      '200': 1,
      '409 ACTIVE_OTP_EXISTS': 5,
    });
  });
});
