import { beforeAll, describe, expect, it } from 'vitest';
import { sweepExpiredOtps } from '../../src/otp/expiry.js';
import { codeFromInbox, createHarness, type Harness } from '../harness.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});

let phones = 0;
/** A phone number no other test of this file uses (the inbox is shared by every tenant). */
const nextPhone = () => `+9779842${String(++phones).padStart(6, '0')}`;

async function send(key: string, body: Record<string, unknown>) {
  const res = await h.call('POST', '/v1/otp/send', { key, body });
  expect(res.status).toBe(201);
  return res.body.data as { otp_id: string; phone: string; expires_at: string };
}

const verify = (key: string, body: Record<string, unknown>) =>
  h.call('POST', '/v1/otp/verify', { key, body });
const status = async (key: string, otpId: string) =>
  (await h.call('GET', `/v1/otp/${otpId}`, { key })).body.data;
const storedOtp = (otpId: string) =>
  h.ctx.store.db.selectFrom('otps').selectAll().where('id', '=', otpId).executeTakeFirstOrThrow();

describe('POST /v1/otp/verify', () => {
  it('verifies by otp_id and answers verified, otp_id, phone, reference and metadata', async () => {
    const { key } = await h.tenant();
    const phone = nextPhone();
    const metadata = { user: 42, cart: { items: ['a', 'b'], total: 9.5 }, vip: false };
    const otp = await send(key, { phone, reference: 'login-7', metadata });
    const res = await verify(key, { otp_id: otp.otp_id, code: '123456' });
    expect(res.status).toBe(200);
    expect(res.body.success).toBe(true);
    expect(res.body.request_id).toMatch(/^req_/);
    expect(res.headers['x-request-id']).toBe(res.body.request_id);
    expect(res.body.data).toEqual({
      verified: true,
      otp_id: otp.otp_id,
      phone,
      status: 'verified',
      reference: 'login-7',
      metadata,
      verified_at: new Date(h.clock.now()).toISOString(),
    });

    const record = await status(key, otp.otp_id);
    expect(record).toMatchObject({
      status: 'verified',
      attempts: 1,
      attempts_remaining: 0,
      resend_available_at: null,
    });
    expect(record.verified_at).toBe(res.body.data.verified_at);
  });

  it('answers reference and metadata as null when the send had none', async () => {
    const { key } = await h.tenant();
    const otp = await send(key, { phone: nextPhone() });
    const res = await verify(key, { otp_id: otp.otp_id, code: '123456' });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ verified: true, reference: null, metadata: null });
  });

  it('verifies a live code read from the inbox', async () => {
    const { key } = await h.tenant({ environment: 'live' });
    const phone = nextPhone();
    const otp = await send(key, { phone });
    const code = await codeFromInbox(h, phone);
    const res = await verify(key, { otp_id: otp.otp_id, code });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ verified: true, otp_id: otp.otp_id, phone });
  });

  it('verifies by phone in E.164: the phone’s pending OTP', async () => {
    const { key } = await h.tenant();
    const phone = nextPhone();
    const otp = await send(key, { phone, reference: 'by-phone' });
    const res = await verify(key, { phone, code: '123456' });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ verified: true, otp_id: otp.otp_id, phone, reference: 'by-phone' });
  });

  it.each([
    ['national form', (n: string) => n.slice(4)],
    ['spaced international form', (n: string) => `+977 ${n.slice(4, 7)}-${n.slice(7)}`],
    ['00 international prefix', (n: string) => `00${n.slice(1)}`],
  ])('verifies by phone written in %s through the app’s default_country', async (_form, write) => {
    const { key } = await h.tenant({ default_country: 'NP' });
    const phone = nextPhone();
    const otp = await send(key, { phone: phone.slice(4) });
    expect(otp.phone).toBe(phone);
    const res = await verify(key, { phone: write(phone), code: '123456' });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ verified: true, otp_id: otp.otp_id, phone });
  });

  it('refuses a national number by phone when the app has no default_country', async () => {
    const { key } = await h.tenant();
    const phone = nextPhone();
    await send(key, { phone });
    const res = await verify(key, { phone: phone.slice(4), code: '123456' });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'INVALID_PHONE_FORMAT', field: 'phone' });
  });

  it('verifies by phone the pending OTP, not an older canceled one', async () => {
    const { key } = await h.tenant();
    const phone = nextPhone();
    const first = await send(key, { phone, reference: 'first' });
    expect((await h.call('POST', `/v1/otp/${first.otp_id}/cancel`, { key })).status).toBe(200);
    h.clock.advance(1);
    const second = await send(key, { phone, reference: 'second' });
    const res = await verify(key, { phone, code: '123456' });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ otp_id: second.otp_id, reference: 'second' });
  });

  it('answers by phone with the latest OTP’s own error once none is pending', async () => {
    const { key } = await h.tenant();
    const phone = nextPhone();
    const otp = await send(key, { phone });
    expect((await verify(key, { phone, code: '123456' })).status).toBe(200);
    const again = await verify(key, { phone, code: '123456' });
    expect(again.status).toBe(409);
    expect(again.body.error).toMatchObject({ code: 'OTP_ALREADY_VERIFIED', otp_id: otp.otp_id });
  });

  it('verifies when otp_id and phone are both given and name the same OTP', async () => {
    const { key } = await h.tenant({ default_country: 'NP' });
    const otp = await send(key, { phone: nextPhone() });
    const res = await verify(key, { otp_id: otp.otp_id, phone: otp.phone.slice(4), code: '123456' });
    expect(res.status).toBe(200);
    expect(res.body.data.otp_id).toBe(otp.otp_id);
  });

  it('answers OTP_NOT_FOUND when otp_id and phone name different OTPs, counting no attempt', async () => {
    const { key } = await h.tenant();
    const a = await send(key, { phone: nextPhone() });
    const b = await send(key, { phone: nextPhone() });
    const res = await verify(key, { otp_id: a.otp_id, phone: b.phone, code: '123456' });
    expect(res.status).toBe(404);
    expect(res.body.error).toMatchObject({ code: 'OTP_NOT_FOUND', field: 'phone' });
    expect(await status(key, a.otp_id)).toMatchObject({ status: 'pending', attempts: 0 });
    expect(await status(key, b.otp_id)).toMatchObject({ status: 'pending', attempts: 0 });
  });
});

describe('wrong codes', () => {
  it('answers INVALID_OTP with attempts_remaining 2, 1, 0 for three wrong codes', async () => {
    const { key } = await h.tenant();
    const otp = await send(key, { phone: nextPhone() });
    for (const remaining of [2, 1, 0]) {
      const res = await verify(key, { otp_id: otp.otp_id, code: '000000' });
      expect(res.status).toBe(400);
      expect(res.body.success).toBe(false);
      expect(res.body.error).toMatchObject({
        code: 'INVALID_OTP',
        otp_id: otp.otp_id,
        attempts_remaining: remaining,
      });
      expect(res.body.error.message).toEqual(expect.any(String));
    }
  });

  it('rejects the 4th wrong code with MAX_ATTEMPTS_EXCEEDED', async () => {
    const { key } = await h.tenant();
    const otp = await send(key, { phone: nextPhone() });
    for (let i = 0; i < 3; i++) await verify(key, { otp_id: otp.otp_id, code: '000000' });
    const res = await verify(key, { otp_id: otp.otp_id, code: '000000' });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({
      code: 'MAX_ATTEMPTS_EXCEEDED',
      otp_id: otp.otp_id,
      attempts_remaining: 0,
    });
  });

  it('refuses the right code after max attempts with MAX_ATTEMPTS_EXCEEDED, by otp_id and by phone', async () => {
    const { key } = await h.tenant();
    const otp = await send(key, { phone: nextPhone() });
    for (let i = 0; i < 3; i++) await verify(key, { otp_id: otp.otp_id, code: '000000' });
    for (const body of [{ otp_id: otp.otp_id }, { phone: otp.phone }]) {
      const res = await verify(key, { ...body, code: '123456' });
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'MAX_ATTEMPTS_EXCEEDED', otp_id: otp.otp_id });
    }
  });

  it('turns the status to max_attempts and stops counting attempts', async () => {
    const { key } = await h.tenant();
    const otp = await send(key, { phone: nextPhone() });
    for (let i = 0; i < 5; i++) await verify(key, { otp_id: otp.otp_id, code: '000000' });
    const record = await status(key, otp.otp_id);
    expect(record).toMatchObject({
      status: 'max_attempts',
      attempts: 3,
      max_attempts: 3,
      attempts_remaining: 0,
    });
    expect(record.verified_at).toBeNull();
  });

  it('verifies the right code after wrong ones while attempts remain', async () => {
    const { key } = await h.tenant();
    const otp = await send(key, { phone: nextPhone() });
    await verify(key, { otp_id: otp.otp_id, code: '000000' });
    await verify(key, { otp_id: otp.otp_id, code: '654321' });
    const res = await verify(key, { otp_id: otp.otp_id, code: '123456' });
    expect(res.status).toBe(200);
    expect(res.body.data.verified).toBe(true);
    expect(await status(key, otp.otp_id)).toMatchObject({ status: 'verified', attempts: 3 });
  });

  it('honours a per-send max_attempts of 1', async () => {
    const { key } = await h.tenant();
    const otp = await send(key, { phone: nextPhone(), max_attempts: 1 });
    const wrong = await verify(key, { otp_id: otp.otp_id, code: '000000' });
    expect(wrong.body.error).toMatchObject({ code: 'INVALID_OTP', attempts_remaining: 0 });
    const right = await verify(key, { otp_id: otp.otp_id, code: '123456' });
    expect(right.status).toBe(400);
    expect(right.body.error.code).toBe('MAX_ATTEMPTS_EXCEEDED');
  });

  it('honours the app’s max_attempts', async () => {
    const { key } = await h.tenant({ max_attempts: 5 });
    const otp = await send(key, { phone: nextPhone() });
    const remaining = [];
    for (let i = 0; i < 5; i++) {
      remaining.push(
        (await verify(key, { otp_id: otp.otp_id, code: '000000' })).body.error.attempts_remaining,
      );
    }
    expect(remaining).toEqual([4, 3, 2, 1, 0]);
    expect((await verify(key, { otp_id: otp.otp_id, code: '123456' })).body.error.code).toBe(
      'MAX_ATTEMPTS_EXCEEDED',
    );
  });

  it('counts wrong codes sent by phone against the phone’s OTP', async () => {
    const { key } = await h.tenant({ default_country: 'NP' });
    const phone = nextPhone();
    const otp = await send(key, { phone });
    const first = await verify(key, { phone, code: '000000' });
    const second = await verify(key, { phone: phone.slice(4), code: '000000' });
    expect([first.body.error.attempts_remaining, second.body.error.attempts_remaining]).toEqual([2, 1]);
    expect((await status(key, otp.otp_id)).attempts).toBe(2);
  });
});

describe('expired codes', () => {
  it('accepts the right code one second before the expiry', async () => {
    const { key } = await h.tenant();
    const otp = await send(key, { phone: nextPhone(), expiry: 60 });
    h.clock.advance(59);
    expect((await verify(key, { otp_id: otp.otp_id, code: '123456' })).status).toBe(200);
  });

  it('answers OTP_EXPIRED at the expiry, before any sweep, without counting an attempt', async () => {
    const { key } = await h.tenant();
    const otp = await send(key, { phone: nextPhone(), expiry: 60 });
    h.clock.advance(60);
    const res = await verify(key, { otp_id: otp.otp_id, code: '123456' });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'OTP_EXPIRED', otp_id: otp.otp_id });
    const row = await storedOtp(otp.otp_id);
    expect(row).toMatchObject({ status: 'expired', attempts: 0, code_ciphertext: null });
    expect((await verify(key, { otp_id: otp.otp_id, code: '000000' })).body.error.code).toBe('OTP_EXPIRED');
  });

  it('answers OTP_EXPIRED by phone before any sweep', async () => {
    const { key } = await h.tenant();
    const otp = await send(key, { phone: nextPhone() });
    h.clock.advance(301);
    const res = await verify(key, { phone: otp.phone, code: '123456' });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'OTP_EXPIRED', otp_id: otp.otp_id });
  });

  it('answers OTP_EXPIRED after the sweeper ended the OTP, by otp_id and by phone', async () => {
    const { key } = await h.tenant();
    const otp = await send(key, { phone: nextPhone(), expiry: 120 });
    h.clock.advance(121);
    expect(await sweepExpiredOtps(h.ctx)).toBeGreaterThanOrEqual(1);
    expect(await storedOtp(otp.otp_id)).toMatchObject({ status: 'expired', code_ciphertext: null });
    for (const body of [{ otp_id: otp.otp_id }, { phone: otp.phone }]) {
      const res = await verify(key, { ...body, code: '123456' });
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'OTP_EXPIRED', otp_id: otp.otp_id });
    }
    expect((await status(key, otp.otp_id)).status).toBe('expired');
  });
});

describe('ended codes answer why they ended', () => {
  it('answers OTP_CANCELED for a canceled OTP, by otp_id and by phone', async () => {
    const { key } = await h.tenant();
    const otp = await send(key, { phone: nextPhone() });
    expect((await h.call('POST', `/v1/otp/${otp.otp_id}/cancel`, { key })).status).toBe(200);
    for (const body of [{ otp_id: otp.otp_id }, { phone: otp.phone }]) {
      const res = await verify(key, { ...body, code: '123456' });
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'OTP_CANCELED', otp_id: otp.otp_id });
    }
    expect((await storedOtp(otp.otp_id)).attempts).toBe(0);
  });

  it('answers 409 OTP_ALREADY_VERIFIED on a second verify, with the right or a wrong code', async () => {
    const { key } = await h.tenant();
    const otp = await send(key, { phone: nextPhone() });
    expect((await verify(key, { otp_id: otp.otp_id, code: '123456' })).status).toBe(200);
    for (const code of ['123456', '000000']) {
      const res = await verify(key, { otp_id: otp.otp_id, code });
      expect(res.status).toBe(409);
      expect(res.body.error).toMatchObject({ code: 'OTP_ALREADY_VERIFIED', otp_id: otp.otp_id });
    }
    expect(await status(key, otp.otp_id)).toMatchObject({ status: 'verified', attempts: 1 });
  });
});

describe('unknown OTPs and bad input', () => {
  it('answers 404 OTP_NOT_FOUND for an unknown otp_id', async () => {
    const { key } = await h.tenant();
    const res = await verify(key, { otp_id: 'otp_0000000000000000000000', code: '123456' });
    expect(res.status).toBe(404);
    expect(res.body.success).toBe(false);
    expect(res.body.error.code).toBe('OTP_NOT_FOUND');
  });

  it('answers 404 OTP_NOT_FOUND for a phone that was never sent an OTP', async () => {
    const { key } = await h.tenant();
    const res = await verify(key, { phone: nextPhone(), code: '123456' });
    expect(res.status).toBe(404);
    expect(res.body.error).toMatchObject({ code: 'OTP_NOT_FOUND', field: 'phone' });
  });

  it('refuses a verify with neither otp_id nor phone with INVALID_REQUEST', async () => {
    const { key } = await h.tenant();
    const res = await verify(key, { code: '123456' });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('INVALID_REQUEST');
    expect(res.body.error.field).toEqual(expect.any(String));
    expect(res.body.error.message).toMatch(/otp_id/);
  });

  it.each([
    [{ otp_id: 'otp_abc' }, 'code'],
    [{ otp_id: 'otp_abc', code: '' }, 'code'],
    [{ otp_id: 'otp_abc', code: { value: '123456' } }, 'code'],
    [{ otp_id: 'otp_abc', code: null }, 'code'],
    [{ otp_id: 'otp_abc', code: '1'.repeat(33) }, 'code'],
    [{ otp_id: 'msg_abc', code: '123456' }, 'otp_id'],
    [{ otp_id: 'otp_a/b', code: '123456' }, 'otp_id'],
    [{ phone: 'x', code: '123456' }, 'phone'],
    [{ otp_id: 'otp_abc', code: '123456', extra: true }, 'extra'],
  ])('refuses %j with INVALID_REQUEST on %s', async (body, field) => {
    const { key } = await h.tenant();
    const res = await verify(key, body);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'INVALID_REQUEST', field });
  });

  it('refuses an unparseable phone with INVALID_PHONE_FORMAT', async () => {
    const { key } = await h.tenant();
    const res = await verify(key, { phone: 'not a phone', code: '123456' });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'INVALID_PHONE_FORMAT', field: 'phone' });
  });
});

describe('submitted codes are normalised', () => {
  it.each(['123 456', '123-456', ' 12-34 56 ', '1 2 3-4-5 6'])(
    'accepts the numeric code typed as %j',
    async (typed) => {
      const { key } = await h.tenant();
      const otp = await send(key, { phone: nextPhone() });
      const res = await verify(key, { otp_id: otp.otp_id, code: typed });
      expect(res.status).toBe(200);
      expect(res.body.data.verified).toBe(true);
    },
  );

  it('accepts an alphanumeric code in lowercase with spaces and dashes', async () => {
    const { key } = await h.tenant({ environment: 'live' });
    const phone = nextPhone();
    const otp = await send(key, {
      phone,
      code_type: 'alphanumeric',
      code_length: 8,
      message: 'Your code is {code}',
    });
    const code = await codeFromInbox(h, phone);
    expect(code).toMatch(/^[A-HJ-NP-Z2-9]{8}$/);
    const typed = `${code.slice(0, 4).toLowerCase()}-${code.slice(4, 6)} ${code.slice(6).toLowerCase()}`;
    const res = await verify(key, { otp_id: otp.otp_id, code: typed });
    expect(res.status).toBe(200);
    expect(res.body.data.verified).toBe(true);
  });

  it('accepts an alphabetic code in lowercase', async () => {
    const { key } = await h.tenant({ environment: 'live' });
    const phone = nextPhone();
    const otp = await send(key, {
      phone,
      code_type: 'alphabetic',
      code_length: 6,
      message: 'Your code is {code}',
    });
    const code = await codeFromInbox(h, phone);
    const res = await verify(key, { otp_id: otp.otp_id, code: code.toLowerCase() });
    expect(res.status).toBe(200);
  });

  it('accepts the sandbox alphanumeric code in mixed case', async () => {
    const { key } = await h.tenant({ code_type: 'alphanumeric', code_length: 8 });
    const otp = await send(key, { phone: nextPhone() });
    const res = await verify(key, { otp_id: otp.otp_id, code: 'abc2-34De' });
    expect(res.status).toBe(200);
  });

  it('counts a code with other characters as a wrong code', async () => {
    const { key } = await h.tenant();
    const otp = await send(key, { phone: nextPhone() });
    for (const typed of ['123456.', '1234567', '12345']) {
      const res = await verify(key, { otp_id: otp.otp_id, code: typed });
      expect(res.body.error.code).toBe('INVALID_OTP');
    }
  });
});

describe('the stored code', () => {
  it('keeps only an HMAC of the code and a ciphertext that is wiped once verified', async () => {
    const { key } = await h.tenant({ environment: 'live' });
    const phone = nextPhone();
    const otp = await send(key, { phone });
    const code = await codeFromInbox(h, phone);
    const before = await storedOtp(otp.otp_id);
    expect(before.code_hmac).not.toBe(code);
    expect(before.code_hmac).not.toContain(code);
    expect(before.code_ciphertext).not.toBeNull();
    expect(before.code_ciphertext).not.toContain(code);
    await verify(key, { otp_id: otp.otp_id, code });
    const after = await storedOtp(otp.otp_id);
    expect(after).toMatchObject({ status: 'verified', code_ciphertext: null });
  });

  it('hashes equal codes of different OTPs differently', async () => {
    const { key } = await h.tenant();
    const a = await send(key, { phone: nextPhone() });
    const b = await send(key, { phone: nextPhone() });
    expect((await storedOtp(a.otp_id)).code_hmac).not.toBe((await storedOtp(b.otp_id)).code_hmac);
  });

  it('wipes the ciphertext when the last attempt fails', async () => {
    const { key } = await h.tenant();
    const otp = await send(key, { phone: nextPhone() });
    for (let i = 0; i < 3; i++) await verify(key, { otp_id: otp.otp_id, code: '000000' });
    expect(await storedOtp(otp.otp_id)).toMatchObject({ status: 'max_attempts', code_ciphertext: null });
  });

  it('keeps the ciphertext after a wrong code while attempts remain', async () => {
    const { key } = await h.tenant();
    const otp = await send(key, { phone: nextPhone() });
    await verify(key, { otp_id: otp.otp_id, code: '000000' });
    expect((await storedOtp(otp.otp_id)).code_ciphertext).not.toBeNull();
  });
});

describe('tenancy', () => {
  it('answers OTP_NOT_FOUND for another tenant’s otp_id and leaves that OTP untouched', async () => {
    const owner = await h.tenant();
    const other = await h.tenant();
    const otp = await send(owner.key, { phone: nextPhone() });
    for (const code of ['123456', '000000']) {
      const res = await verify(other.key, { otp_id: otp.otp_id, code });
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('OTP_NOT_FOUND');
      expect(res.body.error.otp_id).toBeUndefined();
    }
    expect(await status(owner.key, otp.otp_id)).toMatchObject({ status: 'pending', attempts: 0 });
    expect((await verify(owner.key, { otp_id: otp.otp_id, code: '123456' })).status).toBe(200);
  });

  it('answers OTP_NOT_FOUND by phone when only another tenant sent to it', async () => {
    const owner = await h.tenant();
    const other = await h.tenant();
    const otp = await send(owner.key, { phone: nextPhone() });
    const res = await verify(other.key, { phone: otp.phone, code: '123456' });
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('OTP_NOT_FOUND');
    expect(await status(owner.key, otp.otp_id)).toMatchObject({ status: 'pending', attempts: 0 });
  });

  it('refuses a revoked key with 401 INVALID_API_KEY', async () => {
    const { app, key } = await h.tenant();
    const otp = await send(key, { phone: nextPhone() });
    const keys = await h.admin('GET', `/admin/v1/apps/${app.id}/keys`);
    expect((await h.admin('DELETE', `/admin/v1/keys/${keys.body.data.items[0].id}`)).status).toBe(200);
    const res = await verify(key, { otp_id: otp.otp_id, code: '123456' });
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('INVALID_API_KEY');
    expect((await storedOtp(otp.otp_id)).attempts).toBe(0);
  });

  it('refuses a verify without a key with 401 INVALID_API_KEY', async () => {
    const res = await h.call('POST', '/v1/otp/verify', { body: { otp_id: 'otp_abc', code: '123456' } });
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('INVALID_API_KEY');
  });
});
