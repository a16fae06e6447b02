import { beforeAll, describe, expect, it } from 'vitest';
import { codeFromInbox, createHarness, type Harness, parallel, type Response, tally } from '../harness.js';

/**
 * /compat/nexcode: NexCode's documented requests (nexcode-verification-demo.txt),
 * copied verbatim, against otpd with only the base URL changed.
 */

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});

const DOC_REQUEST = {
  msisdn: '+393331234567',
  customer_id: 'retailer-001',
  channel: 'sms',
};
const DOC_VERIFY = {
  request_id: 'req_41a8',
  otp: '847392',
};

let phones = 0;
/** An Italian mobile number no other test of this file uses. */
const nextPhone = () => `+39333${String(++phones).padStart(7, '0')}`;

const request = (key: string, body: unknown) => h.call('POST', '/compat/nexcode/otp/request', { key, body });
const verify = (key: string, body: unknown) => h.call('POST', '/compat/nexcode/otp/verify', { key, body });

function expectRejected(res: Response, status: number, code: string, extras: Record<string, unknown> = {}) {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.body).toEqual({ status: 'rejected', error: { code, message: expect.any(String), ...extras } });
}

function expectVerifyError(
  res: Response,
  status: number,
  code: string,
  extras: Record<string, unknown> = {},
) {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.body).toEqual({ verified: false, error: { code, message: expect.any(String), ...extras } });
}

describe('the documented flow', () => {
  it('accepts the documented request and answers YES to the right code', async () => {
    const { key } = await h.tenant({ environment: 'live' });
    const res = await request(key, DOC_REQUEST);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ request_id: expect.stringMatching(/^otp_/), status: 'accepted' });

    const code = await codeFromInbox(h, DOC_REQUEST.msisdn);
    const [sms] = await h.inbox(DOC_REQUEST.msisdn);
    expect(sms).toMatchObject({ channel: 'sms', phone: '+393331234567' });

    const yes = await verify(key, { ...DOC_VERIFY, request_id: res.body.request_id, otp: code });
    expect(yes.status).toBe(200);
    expect(yes.body).toEqual({ verified: true });

    // customer_id is kept as the OTP's reference.
    const record = await h.call('GET', `/v1/otp/${res.body.request_id}`, { key });
    expect(record.body.data).toMatchObject({ reference: 'retailer-001', status: 'verified' });
    for (const r of [res, yes, record]) expect(JSON.stringify(r.body)).not.toContain(code);
  });

  it('answers the documented verify body (a request_id otpd never issued) with 404', async () => {
    const { key } = await h.tenant();
    expectVerifyError(await verify(key, DOC_VERIFY), 404, 'OTP_NOT_FOUND', { field: 'request_id' });
  });

  it.each(['whatsapp', 'rcs'])('sends on %s', async (channel) => {
    const { key } = await h.tenant();
    const msisdn = nextPhone();
    expect((await request(key, { ...DOC_REQUEST, msisdn, channel })).status).toBe(200);
    await h.deliver();
    expect((await h.inbox(msisdn))[0]).toMatchObject({ channel });
  });

  it('needs only msisdn', async () => {
    const { key } = await h.tenant();
    const res = await request(key, { msisdn: nextPhone() });
    expect(res.body.status).toBe('accepted');
    expect((await verify(key, { request_id: res.body.request_id, otp: '123456' })).body).toEqual({
      verified: true,
    });
  });
});

describe('NO answers (200, verified: false, with the reason)', () => {
  it('says NO to a wrong code, with the attempts left, then NO for good', async () => {
    const { key } = await h.tenant();
    const res = await request(key, { ...DOC_REQUEST, msisdn: nextPhone() });
    const id = res.body.request_id;
    const answers = [];
    for (let i = 0; i < 3; i++)
      answers.push((await verify(key, { request_id: id, otp: DOC_VERIFY.otp })).body);
    expect(answers).toEqual([
      { verified: false, reason: 'INVALID_OTP', attempts_remaining: 2 },
      { verified: false, reason: 'INVALID_OTP', attempts_remaining: 1 },
      { verified: false, reason: 'INVALID_OTP', attempts_remaining: 0 },
    ]);
    const locked = await verify(key, { request_id: id, otp: '123456' });
    expect(locked.status).toBe(200);
    expect(locked.body).toEqual({ verified: false, reason: 'MAX_ATTEMPTS_EXCEEDED', attempts_remaining: 0 });
  });

  it('says NO to an expired code', async () => {
    const { key } = await h.tenant();
    const res = await request(key, { ...DOC_REQUEST, msisdn: nextPhone() });
    h.clock.advance(301);
    const no = await verify(key, { request_id: res.body.request_id, otp: '123456' });
    expect(no.status).toBe(200);
    expect(no.body).toEqual({ verified: false, reason: 'OTP_EXPIRED' });
  });

  it('says NO to a replay of a verified code', async () => {
    const { key } = await h.tenant();
    const res = await request(key, { ...DOC_REQUEST, msisdn: nextPhone() });
    await verify(key, { request_id: res.body.request_id, otp: '123456' });
    const replay = await verify(key, { request_id: res.body.request_id, otp: '123456' });
    expect(replay.body).toEqual({ verified: false, reason: 'OTP_ALREADY_VERIFIED' });
  });

  it('says NO to a canceled request', async () => {
    const { key } = await h.tenant();
    const res = await request(key, { ...DOC_REQUEST, msisdn: nextPhone() });
    await h.call('POST', `/v1/otp/${res.body.request_id}/cancel`, { key });
    const no = await verify(key, { request_id: res.body.request_id, otp: '123456' });
    expect(no.body).toEqual({ verified: false, reason: 'OTP_CANCELED' });
  });

  it('of parallel verifications with the right code exactly one says YES', async () => {
    const { key } = await h.tenant();
    const res = await request(key, { ...DOC_REQUEST, msisdn: nextPhone() });
    const answers = await parallel(8, () => verify(key, { request_id: res.body.request_id, otp: '123456' }));
    expect(answers.filter((a) => a.body.verified === true)).toHaveLength(1);
    expect(answers.filter((a) => a.body.reason === 'OTP_ALREADY_VERIFIED')).toHaveLength(7);
  });
});

describe('failed requests', () => {
  it("answers 404 for another app's request_id, and leaves it alone", async () => {
    const mine = await h.tenant();
    const other = await h.tenant();
    const res = await request(other.key, { ...DOC_REQUEST, msisdn: nextPhone() });
    expectVerifyError(
      await verify(mine.key, { request_id: res.body.request_id, otp: '123456' }),
      404,
      'OTP_NOT_FOUND',
      {
        field: 'request_id',
      },
    );
    expect((await verify(other.key, { request_id: res.body.request_id, otp: '123456' })).body).toEqual({
      verified: true,
    });
  });

  it('rejects a second request while a code is active, with its request_id', async () => {
    const { key } = await h.tenant();
    const msisdn = nextPhone();
    const first = await request(key, { ...DOC_REQUEST, msisdn });
    expectRejected(await request(key, { ...DOC_REQUEST, msisdn }), 409, 'ACTIVE_OTP_EXISTS', {
      request_id: first.body.request_id,
      retry_after: 300,
    });
  });

  it('rejects past a rate limit with retry_after and Retry-After', async () => {
    const { key } = await h.tenant({ limits: { phone_hour: { max: 1, window: 3600 } } });
    const msisdn = nextPhone();
    const first = await request(key, { ...DOC_REQUEST, msisdn });
    await verify(key, { request_id: first.body.request_id, otp: '123456' });
    const limited = await request(key, { ...DOC_REQUEST, msisdn });
    expectRejected(limited, 429, 'RATE_LIMIT_EXCEEDED', { retry_after: 3600, scope: 'phone_hour' });
    expect(limited.headers['retry-after']).toBe('3600');
  });

  it('rejects a channel the app does not have', async () => {
    const { key } = await h.tenant({ channels: ['sms'], default_channel: 'sms' });
    expectRejected(await request(key, { ...DOC_REQUEST, channel: 'whatsapp' }), 400, 'UNSUPPORTED_CHANNEL', {
      field: 'channel',
    });
  });

  it.each([
    [{ ...DOC_REQUEST, msisdn: '333' }, 400, 'INVALID_PHONE_FORMAT', 'msisdn'],
    [{ ...DOC_REQUEST, channel: 'email' }, 400, 'INVALID_REQUEST', 'channel'],
    [{ customer_id: 'retailer-001' }, 400, 'INVALID_REQUEST', 'msisdn'],
    [{ ...DOC_REQUEST, extra: 1 }, 400, 'INVALID_REQUEST', 'extra'],
  ])('rejects %j', async (body, status, code, field) => {
    const { key } = await h.tenant();
    expectRejected(await request(key, body), status, code, { field });
  });

  it('rejects a verification without its fields', async () => {
    const { key } = await h.tenant();
    expectVerifyError(await verify(key, { request_id: 'otp_x' }), 400, 'INVALID_REQUEST', { field: 'otp' });
  });

  it('rejects a missing or wrong key on both endpoints', async () => {
    const req = await h.call('POST', '/compat/nexcode/otp/request', { body: DOC_REQUEST });
    expectRejected(req, 401, 'INVALID_API_KEY');
    const ver = await h.call('POST', '/compat/nexcode/otp/verify', {
      body: DOC_VERIFY,
      headers: { authorization: 'Bearer otpd_live_wrong' },
    });
    expectVerifyError(ver, 401, 'INVALID_API_KEY');
  });

  it('answers unknown paths with 404 NOT_FOUND', async () => {
    const { key } = await h.tenant();
    expectRejected(await h.call('GET', '/compat/nexcode/otp/status', { key }), 404, 'NOT_FOUND');
  });

  it('of parallel requests for one number exactly one is accepted', async () => {
    const { key } = await h.tenant();
    const msisdn = nextPhone();
    const answers = await parallel(6, () => request(key, { ...DOC_REQUEST, msisdn }));
    expect(
      tally(answers.map((a) => ({ ...a, body: { success: a.status === 200, error: a.body.error } }))),
    ).toEqual({ '200': 1, '409 ACTIVE_OTP_EXISTS': 5 });
  });
});
