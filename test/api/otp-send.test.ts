import { beforeAll, describe, expect, it } from 'vitest';
import { codeFromInbox, createHarness, type Harness } from '../harness.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});

describe('POST /v1/otp/send', () => {
  it('creates a pending OTP and queues its message to the inbox', async () => {
    const { key } = await h.tenant({ environment: 'live' });
    const res = await h.call('POST', '/v1/otp/send', {
      key,
      body: { phone: '+9779841000001', reference: 'order-1', metadata: { user: 42 } },
    });
    expect(res.status).toBe(201);
    expect(res.body.success).toBe(true);
    expect(res.body.request_id).toMatch(/^req_/);
    expect(res.headers['x-request-id']).toBe(res.body.request_id);
    const d = res.body.data;
    expect(d).toMatchObject({
      phone: '+9779841000001',
      channel: 'sms',
      status: 'pending',
      attempts_remaining: 3,
      reference: 'order-1',
      metadata: { user: 42 },
    });
    expect(d.otp_id).toMatch(/^otp_/);
    expect(Date.parse(d.expires_at) - h.clock.now()).toBe(300_000);
    expect(Date.parse(d.resend_available_at) - h.clock.now()).toBe(60_000);
    expect(JSON.stringify(d)).not.toMatch(/code_hmac|ciphertext/);

    const code = await codeFromInbox(h, '+9779841000001');
    expect(code).toMatch(/^\d{6}$/);
    const [msg] = await h.inbox('+9779841000001');
    expect(msg!.text).toBe(`Your Test app verification code is ${code}. It expires in 5 minutes.`);
  });

  it('uses the fixed code 123456 in sandbox', async () => {
    const { key } = await h.tenant();
    const res = await h.call('POST', '/v1/otp/send', { key, body: { phone: '+9779841000002' } });
    expect(res.status).toBe(201);
    expect(await codeFromInbox(h, '+9779841000002')).toBe('123456');
  });

  it('normalises every written form of one number to E.164', async () => {
    const { key } = await h.tenant({ default_country: 'NP' });
    for (const phone of ['+977 984-1000003', '009779841000003', '9841000003']) {
      const res = await h.call('POST', '/v1/otp/send', { key, body: { phone } });
      expect(res.body.data?.phone ?? res.body.error.code).toBe(
        phone === '+977 984-1000003' ? '+9779841000003' : 'ACTIVE_OTP_EXISTS',
      );
    }
  });

  it('answers ACTIVE_OTP_EXISTS with the active otp_id and retry_after', async () => {
    const { key } = await h.tenant();
    const first = await h.call('POST', '/v1/otp/send', { key, body: { phone: '+9779841000004' } });
    const second = await h.call('POST', '/v1/otp/send', { key, body: { phone: '+9779841000004' } });
    expect(second.status).toBe(409);
    expect(second.body.error).toMatchObject({
      code: 'ACTIVE_OTP_EXISTS',
      otp_id: first.body.data.otp_id,
      retry_after: 300,
    });
    expect(second.headers['retry-after']).toBe('300');
  });

  it('accepts a new send once the active code has expired, before any sweep', async () => {
    const { key } = await h.tenant();
    const first = await h.call('POST', '/v1/otp/send', {
      key,
      body: { phone: '+9779841000005', expiry: 60 },
    });
    h.clock.advance(61);
    const status = await h.call('GET', `/v1/otp/${first.body.data.otp_id}`, { key });
    expect(status.body.data.status).toBe('expired');
    const second = await h.call('POST', '/v1/otp/send', { key, body: { phone: '+9779841000005' } });
    expect(second.status).toBe(201);
  });

  it('applies per-send code type, length, expiry, attempts and message', async () => {
    const { key } = await h.tenant({ environment: 'live' });
    const res = await h.call('POST', '/v1/otp/send', {
      key,
      body: {
        phone: '+9779841000006',
        code_type: 'alphanumeric',
        code_length: 10,
        expiry: 600,
        max_attempts: 5,
        message: '{app}: {code} ({minutes} min)',
      },
    });
    expect(res.status).toBe(201);
    expect(res.body.data.attempts_remaining).toBe(5);
    await h.deliver();
    const [msg] = await h.inbox('+9779841000006');
    expect(msg!.text).toMatch(/^Test app: [A-HJ-NP-Z2-9]{10} \(10 min\)$/);
  });

  it.each([
    ['alphabetic', 5, /^[A-Z]{5}$/],
    ['numeric', 4, /^\d{4}$/],
    ['numeric', 8, /^\d{8}$/],
    ['alphanumeric', 12, /^[A-HJ-NP-Z2-9]{12}$/],
  ])('generates %s codes of length %i', async (code_type, code_length, shape) => {
    const { key } = await h.tenant({ environment: 'live' });
    const phone = `+97798410001${String(code_length).padStart(2, '0')}`;
    const res = await h.call('POST', '/v1/otp/send', {
      key,
      body: { phone, code_type, code_length, message: 'C {code}' },
    });
    expect(res.status).toBe(201);
    await h.deliver();
    const [msg] = await h.inbox(phone);
    expect(msg!.text.slice(2)).toMatch(shape);
  });

  it('takes a caller-supplied code only where the app allows it', async () => {
    const closed = await h.tenant();
    const refused = await h.call('POST', '/v1/otp/send', {
      key: closed.key,
      body: { phone: '+9779841000007', code: '4321' },
    });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatchObject({ code: 'INVALID_REQUEST', field: 'code' });

    const open = await h.tenant({ allow_custom_code: true, environment: 'live' });
    const ok = await h.call('POST', '/v1/otp/send', {
      key: open.key,
      body: { phone: '+9779841000007', code: '4321' },
    });
    expect(ok.status).toBe(201);
    const verified = await h.call('POST', '/v1/otp/verify', {
      key: open.key,
      body: { otp_id: ok.body.data.otp_id, code: '4321' },
    });
    expect(verified.body.data.verified).toBe(true);
  });

  describe('refuses bad input with a clear error', () => {
    it.each([
      [{}, 'INVALID_REQUEST', 'phone'],
      [{ phone: 12 }, 'INVALID_REQUEST', 'phone'],
      [{ phone: '+9779841000008', channel: 'fax' }, 'INVALID_REQUEST', 'channel'],
      [{ phone: '+9779841000008', expiry: 59 }, 'INVALID_REQUEST', 'expiry'],
      [{ phone: '+9779841000008', expiry: 86401 }, 'INVALID_REQUEST', 'expiry'],
      [{ phone: '+9779841000008', max_attempts: 11 }, 'INVALID_REQUEST', 'max_attempts'],
      [{ phone: '+9779841000008', max_attempts: 0 }, 'INVALID_REQUEST', 'max_attempts'],
      [{ phone: '+9779841000008', code_type: 'numeric', code_length: 9 }, 'INVALID_REQUEST', 'code_length'],
      [
        { phone: '+9779841000008', code_type: 'alphabetic', code_length: 4 },
        'INVALID_REQUEST',
        'code_length',
      ],
      [{ phone: '+9779841000008', message: 'no placeholder here' }, 'INVALID_REQUEST', 'message'],
      [{ phone: '+9779841000008', message: 'Code {code} {nope}' }, 'INVALID_REQUEST', 'message'],
      [{ phone: '+9779841000008', metadata: { blob: 'x'.repeat(5000) } }, 'INVALID_REQUEST', 'metadata'],
      [{ phone: '+9779841000008', metadata: 'text' }, 'INVALID_REQUEST', 'metadata'],
      [{ phone: '+9779841000008', surprise: 1 }, 'INVALID_REQUEST', 'surprise'],
      [{ phone: '+9779841000008', max_attempts: '3' }, 'INVALID_REQUEST', 'max_attempts'],
      [{ phone: '+9779841000008', expiry: 300.5 }, 'INVALID_REQUEST', 'expiry'],
      [{ phone: 9779841000008 }, 'INVALID_REQUEST', 'phone'],
      [{ phone: 'not a phone' }, 'INVALID_PHONE_FORMAT', 'phone'],
      [{ phone: '+977123' }, 'INVALID_PHONE_FORMAT', 'phone'],
      [{ phone: '9841000008' }, 'INVALID_PHONE_FORMAT', 'phone'],
    ])('%j → %s on %s', async (body, code, field) => {
      const { key } = await h.tenant();
      const res = await h.call('POST', '/v1/otp/send', { key, body });
      expect(res.status).toBe(400);
      expect(res.body.success).toBe(false);
      expect(res.body.error).toMatchObject({ code, field });
      expect(res.body.error.message).toEqual(expect.any(String));
    });
  });

  it('refuses countries outside allowed_countries with COUNTRY_NOT_ALLOWED', async () => {
    const { key } = await h.tenant({ allowed_countries: ['NP'] });
    const res = await h.call('POST', '/v1/otp/send', { key, body: { phone: '+14155552671' } });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('COUNTRY_NOT_ALLOWED');
    expect((await h.call('POST', '/v1/otp/send', { key, body: { phone: '+9779841000009' } })).status).toBe(
      201,
    );
  });

  it('refuses SMS and WhatsApp to landlines but allows voice', async () => {
    const { key } = await h.tenant();
    const landline = '+97714123456'; // Kathmandu fixed line
    for (const channel of ['sms', 'whatsapp']) {
      const res = await h.call('POST', '/v1/otp/send', { key, body: { phone: landline, channel } });
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'UNSUPPORTED_CHANNEL', field: 'phone' });
    }
    const voice = await h.call('POST', '/v1/otp/send', { key, body: { phone: landline, channel: 'voice' } });
    expect(voice.status).toBe(201);
  });

  it('refuses a channel the app has not enabled', async () => {
    const { key } = await h.tenant({ channels: ['sms'] });
    const res = await h.call('POST', '/v1/otp/send', {
      key,
      body: { phone: '+9779841000010', channel: 'whatsapp' },
    });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'UNSUPPORTED_CHANNEL', field: 'channel' });
  });
});
