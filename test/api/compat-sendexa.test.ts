import { beforeAll, describe, expect, it } from 'vitest';
import { codeFromInbox, createHarness, type Harness, parallel, type Response, tally } from '../harness.js';

/**
 * /compat/sendexa: Sendexa's documented requests (sendexa-otp-api.txt),
 * copied verbatim, against otpd with only the base URL (and the key) changed.
 */

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});

// The reference's Quick Start, step 1 and step 3, as documented.
const DOC_REQUEST = {
  phone: '0244123456',
  from: 'MyBrand',
  message: 'Your code is {code}. Valid for {amount} {duration}.',
  pinLength: 6,
  pinType: 'NUMERIC',
  expiry: { amount: 5, duration: 'minutes' },
};
const DOC_VERIFY = { id: 'otp_abc123xyz', pin: '482910' };

/** `Authorization: Basic YOUR_DASHBOARD_BASE64_TOKEN`: the token is the otpd key in base64. */
const basic = (key: string) => ({ authorization: `Basic ${Buffer.from(key).toString('base64')}` });

let phones = 0;
/** A Ghanaian mobile number (national form, as in the doc) no other test of this file uses. */
const nextPhone = () => `0244${String(++phones).padStart(6, '0')}`;
const e164 = (national: string) => `+233${national.slice(1)}`;

const request = (key: string, body: unknown, headers?: Record<string, string>) =>
  h.call('POST', '/compat/sendexa/v1/otp/request', { body, headers: { ...basic(key), ...headers } });
const verify = (key: string, body: unknown) =>
  h.call('POST', '/compat/sendexa/v1/otp/verify', { body, headers: basic(key) });

function expectError(res: Response, status: number, code: string, extras: Record<string, unknown> = {}) {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.body).toEqual({
    success: false,
    error: { code, message: expect.any(String), ...extras },
  });
}

const ghana = (policy: Record<string, unknown> = {}) => h.tenant({ default_country: 'GH', ...policy });

describe('the documented 3-step flow', () => {
  it('requests with the documented body and answers {success, data: {id, expiresAt}}', async () => {
    const { key } = await ghana({ environment: 'live' });
    const res = await request(key, DOC_REQUEST);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      success: true,
      data: {
        id: expect.stringMatching(/^otp_/),
        expiresAt: new Date(h.clock.now() + 300_000).toISOString(),
      },
    });
    expect(res.headers['x-request-id']).toMatch(/^req_/);

    const code = await codeFromInbox(h, '+233244123456');
    expect(code).toMatch(/^\d{6}$/);
    const [sms] = await h.inbox('+233244123456');
    // The doc's own rendering: "Your code is 482910. Valid for 5 minutes."
    expect(sms!.text).toBe(`Your code is ${code}. Valid for 5 minutes.`);

    const wrong = code === '482910' ? '482911' : '482910';
    const miss = await verify(key, { ...DOC_VERIFY, id: res.body.data.id, pin: wrong });
    expectError(miss, 400, 'INVALID_PIN', { attemptsRemaining: 2, id: res.body.data.id });

    const ok = await verify(key, { ...DOC_VERIFY, id: res.body.data.id, pin: code });
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({
      success: true,
      message: 'OTP verified successfully',
      data: { verified: true },
    });

    // "does not exist or was already verified"
    const again = await verify(key, { ...DOC_VERIFY, id: res.body.data.id, pin: code });
    expectError(again, 404, 'OTP_NOT_FOUND', { id: res.body.data.id });

    for (const r of [res, miss, ok, again]) expect(JSON.stringify(r.body)).not.toContain(code);
  });

  it('answers the documented verify body (an id that does not exist) with 404 OTP_NOT_FOUND', async () => {
    const { key } = await ghana();
    expectError(await verify(key, DOC_VERIFY), 404, 'OTP_NOT_FOUND', { field: 'id' });
  });

  it('uses the sandbox code 123456', async () => {
    const { key } = await ghana();
    const phone = nextPhone();
    const res = await request(key, { ...DOC_REQUEST, phone });
    expect(await codeFromInbox(h, e164(phone))).toBe('123456');
    const ok = await verify(key, { id: res.body.data.id, pin: '123456' });
    expect(ok.body.data).toEqual({ verified: true });
  });
});

describe('request fields', () => {
  it.each([
    ['ALPHANUMERIC', 8, /^[A-HJ-NP-Z2-9]{8}$/],
    ['ALPHABETIC', 5, /^[A-Z]{5}$/],
    ['NUMERIC', 4, /^\d{4}$/],
  ])('generates %s pins of pinLength %i', async (pinType, pinLength, shape) => {
    const { key } = await ghana({ environment: 'live' });
    const phone = nextPhone();
    const res = await request(key, { ...DOC_REQUEST, phone, pinType, pinLength });
    expect(res.status).toBe(200);
    expect(await codeFromInbox(h, e164(phone))).toMatch(shape);
  });

  it('takes expiry in hours and writes {amount} {duration} as given', async () => {
    const { key } = await ghana();
    const phone = nextPhone();
    const res = await request(key, { ...DOC_REQUEST, phone, expiry: { amount: 2, duration: 'hours' } });
    expect(Date.parse(res.body.data.expiresAt) - h.clock.now()).toBe(7_200_000);
    await h.deliver();
    expect((await h.inbox(e164(phone)))[0]!.text).toBe('Your code is 123456. Valid for 2 hours.');
  });

  it.each([
    [600, 'Valid for 10 minutes.'],
    [3600, 'Valid for 1 hour.'],
    [60, 'Valid for 1 minute.'],
  ])(
    'fills {amount} {duration} from the app expiry (%i s) when the request has none',
    async (expiry, text) => {
      const { key } = await ghana({ expiry });
      const phone = nextPhone();
      const { expiry: _none, ...body } = DOC_REQUEST;
      expect((await request(key, { ...body, phone })).status).toBe(200);
      await h.deliver();
      expect((await h.inbox(e164(phone)))[0]!.text).toBe(`Your code is 123456. ${text}`);
    },
  );

  it("uses the app's message when the request has none", async () => {
    const { key } = await ghana();
    const phone = nextPhone();
    const res = await request(key, { phone });
    expect(res.status).toBe(200);
    await h.deliver();
    expect((await h.inbox(e164(phone)))[0]!.text).toBe(
      'Your Test app verification code is 123456. It expires in 5 minutes.',
    );
  });

  it('keeps maxAttempts and metadata on the OTP', async () => {
    const { key } = await ghana();
    const res = await request(key, {
      ...DOC_REQUEST,
      phone: nextPhone(),
      maxAttempts: 5,
      metadata: { userId: 'u_1', sessionId: 's_1' },
    });
    const record = await h.call('GET', `/v1/otp/${res.body.data.id}`, { key });
    expect(record.body.data).toMatchObject({
      max_attempts: 5,
      metadata: { userId: 'u_1', sessionId: 's_1' },
    });
    const miss = await verify(key, { id: res.body.data.id, pin: '000000' });
    expect(miss.body.error.attemptsRemaining).toBe(4);
  });

  it('accepts the key as Bearer and as Basic user:password too', async () => {
    const { key } = await ghana();
    const bearer = await h.call('POST', '/compat/sendexa/v1/otp/request', {
      key,
      body: { ...DOC_REQUEST, phone: nextPhone() },
    });
    expect(bearer.status).toBe(200);
    const pair = await h.call('POST', '/compat/sendexa/v1/otp/request', {
      body: { ...DOC_REQUEST, phone: nextPhone() },
      headers: { authorization: `Basic ${Buffer.from(`api:${key}`).toString('base64')}` },
    });
    expect(pair.status).toBe(200);
  });
});

describe('documented errors', () => {
  it('ACTIVE_OTP_EXISTS is a 400 with the countdown in retryAfter', async () => {
    const { key } = await ghana();
    const phone = nextPhone();
    const first = await request(key, { ...DOC_REQUEST, phone });
    h.clock.advance(10);
    const second = await request(key, { ...DOC_REQUEST, phone });
    expectError(second, 400, 'ACTIVE_OTP_EXISTS', {
      id: first.body.data.id,
      retryAfter: 290,
      resendAvailableAt: expect.any(String),
    });
    expect(second.headers['retry-after']).toBe('290');
  });

  it('RATE_LIMIT_EXCEEDED is a 429 with retryAfter', async () => {
    const { key } = await ghana({ limits: { phone_hour: { max: 1, window: 3600 } } });
    const phone = nextPhone();
    const first = await request(key, { ...DOC_REQUEST, phone });
    await verify(key, { id: first.body.data.id, pin: '123456' });
    const limited = await request(key, { ...DOC_REQUEST, phone });
    expectError(limited, 429, 'RATE_LIMIT_EXCEEDED', { retryAfter: 3600, scope: 'phone_hour' });
    expect(limited.headers['retry-after']).toBe('3600');
  });

  it('OTP_EXPIRED once the expiry has passed', async () => {
    const { key } = await ghana();
    const res = await request(key, {
      ...DOC_REQUEST,
      phone: nextPhone(),
      expiry: { amount: 1, duration: 'minute' },
    });
    h.clock.advance(61);
    expectError(await verify(key, { id: res.body.data.id, pin: '123456' }), 400, 'OTP_EXPIRED', {
      id: res.body.data.id,
    });
  });

  it('INVALID_PIN counts attemptsRemaining down to 0, then the OTP is locked', async () => {
    const { key } = await ghana();
    const res = await request(key, { ...DOC_REQUEST, phone: nextPhone() });
    const id = res.body.data.id;
    const remaining = [];
    for (let i = 0; i < 3; i++)
      remaining.push((await verify(key, { id, pin: '000000' })).body.error.attemptsRemaining);
    expect(remaining).toEqual([2, 1, 0]);
    // Not a Sendexa code: otpd's own, in Sendexa's envelope.
    expectError(await verify(key, { id, pin: '123456' }), 400, 'MAX_ATTEMPTS_EXCEEDED', {
      id,
      attemptsRemaining: 0,
    });
  });

  it("OTP_NOT_FOUND for another app's OTP id", async () => {
    const mine = await ghana();
    const other = await ghana();
    const res = await request(other.key, { ...DOC_REQUEST, phone: nextPhone() });
    expectError(await verify(mine.key, { id: res.body.data.id, pin: '123456' }), 404, 'OTP_NOT_FOUND', {
      field: 'id',
    });
    // The other app's OTP is untouched.
    expect((await verify(other.key, { id: res.body.data.id, pin: '123456' })).status).toBe(200);
  });
});

describe('refused requests, in the Sendexa envelope', () => {
  it('refuses a missing or wrong key with 401 INVALID_API_KEY', async () => {
    const none = await h.call('POST', '/compat/sendexa/v1/otp/request', { body: DOC_REQUEST });
    expectError(none, 401, 'INVALID_API_KEY');
    expectError(await request('otpd_test_nope', DOC_REQUEST), 401, 'INVALID_API_KEY');
  });

  it.each([
    [{ ...DOC_REQUEST, pinType: 'numeric' }, 'pinType'],
    [{ ...DOC_REQUEST, pinLength: 12 }, 'pinLength'],
    [{ ...DOC_REQUEST, pinType: 'ALPHABETIC', pinLength: 4 }, 'pinLength'],
    [{ ...DOC_REQUEST, expiry: { amount: 25, duration: 'hours' } }, 'expiry'],
    [{ ...DOC_REQUEST, expiry: { amount: 5, duration: 'days' } }, 'expiry.duration'],
    [{ ...DOC_REQUEST, expiry: 300 }, 'expiry'],
    [{ ...DOC_REQUEST, message: 'Your code is {code}, ref {ref}.' }, 'message'],
    [{ ...DOC_REQUEST, message: 'Valid for {amount} {duration}.' }, 'message'],
    [{ ...DOC_REQUEST, from: 'A sender id that is far too long' }, 'from'],
    [{ ...DOC_REQUEST, channel: 'sms' }, 'channel'],
    [{ from: 'MyBrand' }, 'phone'],
  ])('refuses %j with INVALID_REQUEST about %s', async (body, field) => {
    const { key } = await ghana();
    expectError(await request(key, body), 400, 'INVALID_REQUEST', { field });
  });

  it('refuses a number it cannot read with INVALID_PHONE_FORMAT', async () => {
    const { key } = await ghana();
    expectError(await request(key, { ...DOC_REQUEST, phone: '12345' }), 400, 'INVALID_PHONE_FORMAT', {
      field: 'phone',
    });
  });

  it('refuses malformed JSON and bodies that are not objects', async () => {
    const { key } = await ghana();
    const malformed = await h.server.inject({
      method: 'POST',
      url: '/compat/sendexa/v1/otp/request',
      headers: { ...basic(key), 'content-type': 'application/json' },
      payload: '{"phone": ',
    });
    expectError({ status: malformed.statusCode, headers: {}, body: malformed.json() }, 400, 'INVALID_JSON');
    expectError(await request(key, [1, 2]), 400, 'INVALID_REQUEST', { field: 'body' });
    expectError(await verify(key, { id: 'otp_x' }), 400, 'INVALID_REQUEST', { field: 'pin' });
  });

  it('answers unknown paths with 404 NOT_FOUND', async () => {
    const { key } = await ghana();
    const res = await h.call('POST', '/compat/sendexa/v1/otp/resend', { body: {}, headers: basic(key) });
    expectError(res, 404, 'NOT_FOUND');
  });
});

describe('races and replays', () => {
  it('of parallel verifications with the right pin exactly one succeeds', async () => {
    const { key } = await ghana();
    const res = await request(key, { ...DOC_REQUEST, phone: nextPhone() });
    const answers = await parallel(8, () => verify(key, { id: res.body.data.id, pin: '123456' }));
    expect(tally(answers)).toEqual({ '200': 1, '404 OTP_NOT_FOUND': 7 });
  });

  it('of parallel requests for one phone exactly one creates an OTP', async () => {
    const { key } = await ghana();
    const phone = nextPhone();
    const answers = await parallel(6, () => request(key, { ...DOC_REQUEST, phone }));
    expect(tally(answers)).toEqual({ '200': 1, '400 ACTIVE_OTP_EXISTS': 5 });
  });

  it('ignores Idempotency-Key: a repeated request is refused as ACTIVE_OTP_EXISTS, not replayed', async () => {
    const { key } = await ghana();
    const body = { ...DOC_REQUEST, phone: nextPhone() };
    const first = await request(key, body, { 'idempotency-key': 'k-1' });
    const second = await request(key, body, { 'idempotency-key': 'k-1' });
    expect(first.status).toBe(200);
    expectError(second, 400, 'ACTIVE_OTP_EXISTS', {
      id: first.body.data.id,
      retryAfter: 300,
      resendAvailableAt: expect.any(String),
    });
  });
});
