import { beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness, type Response } from '../harness.js';

/**
 * NepalOTP's shapes are otpd's own /v1: its documented requests
 * (nepalotp-docs.txt), copied verbatim, against /v1 with only the base URL
 * and the key changed. Where otpd answers otherwise than the doc shows, the
 * test pins otpd's answer and says what the doc shows (docs/compat.md lists
 * each difference).
 */

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});

const DOC_KEY = 'notp_live_sk_1a2b3c4d5e6f7g8h9i0j';
const DOC_SEND = {
  phone: '9841234567',
  reference: 'user_signup_abc123',
};
const DOC_VERIFY = {
  otp_id: 'otp_8f9a7b6c5d4e3f2a',
  code: '847293',
};
const DOC_SMS = {
  phone: '9841234567',
  template_id: 'tpl_order_shipped',
  variables: {
    order_id: 'ORD-2024-0847',
    delivery_date: 'Jan 18, 2024',
    brand_name: 'ShopNP',
  },
};
const DOC_TEMPLATE = `Your order {{order_id}} has been shipped.
Expected delivery: {{delivery_date}}.
Thank you for shopping with {{brand_name}}.`;

/** As the doc's curl: Bearer key and a JSON body. */
const curl = (key: string, path: string, body: unknown) =>
  h.call('POST', path, {
    body,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
  });

let phones = 0;
/** A Nepali mobile number (10 digits, 98…) no other test of this file uses. */
const nextPhone = () => `98450${String(++phones).padStart(5, '0')}`;

/** A Nepal app: national numbers read as Nepali. */
const nepal = (policy: Record<string, unknown> = {}) => h.tenant({ default_country: 'NP', ...policy });

function expectError(res: Response, status: number, code: string) {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  // The doc's structure, {success: false, error: {code, message}}; otpd adds request_id (and extras).
  expect(res.body).toMatchObject({ success: false, error: { code, message: expect.any(String) } });
  expect(res.body.request_id).toMatch(/^req_/);
}

describe('Sending an OTP', () => {
  it('takes the documented request; answers the documented fields, the phone in E.164', async () => {
    const { key } = await nepal();
    const res = await curl(key, '/v1/otp/send', DOC_SEND);
    // The doc shows no status code; otpd answers 201 Created.
    expect(res.status).toBe(201);
    expect(res.body.success).toBe(true);
    expect(res.body.data).toMatchObject({
      otp_id: expect.stringMatching(/^otp_/),
      // The doc echoes "9841234567"; otpd answers every phone in E.164.
      phone: '+9779841234567',
      expires_at: new Date(h.clock.now() + 300_000).toISOString(),
      attempts_remaining: 3,
      reference: 'user_signup_abc123',
    });
  });

  it('needs the app default_country NP for 10-digit national numbers', async () => {
    const { key } = await h.tenant();
    expectError(await curl(key, '/v1/otp/send', DOC_SEND), 400, 'INVALID_PHONE_FORMAT');
    const e164 = await curl(key, '/v1/otp/send', { ...DOC_SEND, phone: '+9779841234567' });
    expect(e164.status).toBe(201);
  });

  it('sends the fixed NepalOTP template when the app is given it', async () => {
    // NepalOTP: "Your verification code is: {OTP}. Valid for 5 minutes. Do not share this code."
    const { key } = await nepal({
      message: 'Your verification code is: {code}. Valid for {minutes} minutes. Do not share this code.',
    });
    const phone = nextPhone();
    await curl(key, '/v1/otp/send', { ...DOC_SEND, phone });
    await h.deliver();
    const [sms] = await h.inbox(`+977${phone}`);
    expect(sms).toMatchObject({
      channel: 'sms',
      text: 'Your verification code is: 123456. Valid for 5 minutes. Do not share this code.',
    });
  });

  it('INVALID_PHONE_FORMAT for a number that is not Nepali-valid', async () => {
    const { key } = await nepal();
    expectError(
      await curl(key, '/v1/otp/send', { ...DOC_SEND, phone: '12345' }),
      400,
      'INVALID_PHONE_FORMAT',
    );
  });

  it('RATE_LIMIT_EXCEEDED with retry_after after 5 OTPs per phone per hour', async () => {
    const { key } = await nepal();
    const phone = nextPhone();
    for (let i = 0; i < 5; i++) {
      const sent = await curl(key, '/v1/otp/send', { ...DOC_SEND, phone });
      expect(sent.status).toBe(201);
      await h.call('POST', `/v1/otp/${sent.body.data.otp_id}/cancel`, { key });
    }
    const limited = await curl(key, '/v1/otp/send', { ...DOC_SEND, phone });
    expectError(limited, 429, 'RATE_LIMIT_EXCEEDED');
    // The doc's example: "retry_after": 3600.
    expect(limited.body.error.retry_after).toBe(3600);
  });
});

describe('Verifying an OTP', () => {
  it('answers the documented failure, then the documented success', async () => {
    const { key } = await nepal();
    const sent = await curl(key, '/v1/otp/send', { ...DOC_SEND, phone: nextPhone() });
    const otpId = sent.body.data.otp_id;

    // The doc's own code is wrong here (sandbox codes are 123456): its failure response.
    const failure = await curl(key, '/v1/otp/verify', { ...DOC_VERIFY, otp_id: otpId });
    expect(failure.status).toBe(400);
    expect(failure.body).toMatchObject({
      success: false,
      // The doc: "The code is incorrect" (otpd ends it with a full stop) and no otp_id.
      error: { code: 'INVALID_OTP', message: 'The code is incorrect.', attempts_remaining: 2, otp_id: otpId },
    });

    const success = await curl(key, '/v1/otp/verify', { ...DOC_VERIFY, otp_id: otpId, code: '123456' });
    expect(success.status).toBe(200);
    expect(success.body).toMatchObject({
      success: true,
      data: { verified: true, phone: sent.body.data.phone },
    });
  });

  it('OTP_NOT_FOUND for the documented otp_id, which otpd never issued', async () => {
    const { key } = await nepal();
    expectError(await curl(key, '/v1/otp/verify', DOC_VERIFY), 404, 'OTP_NOT_FOUND');
  });

  it('OTP_EXPIRED after 5 minutes', async () => {
    const { key } = await nepal();
    const sent = await curl(key, '/v1/otp/send', { ...DOC_SEND, phone: nextPhone() });
    h.clock.advance(300);
    expectError(
      await curl(key, '/v1/otp/verify', { otp_id: sent.body.data.otp_id, code: '123456' }),
      400,
      'OTP_EXPIRED',
    );
  });

  it('MAX_ATTEMPTS_EXCEEDED after 3 failed attempts', async () => {
    const { key } = await nepal();
    const sent = await curl(key, '/v1/otp/send', { ...DOC_SEND, phone: nextPhone() });
    const body = { ...DOC_VERIFY, otp_id: sent.body.data.otp_id };
    for (let i = 0; i < 3; i++) await curl(key, '/v1/otp/verify', body);
    expectError(await curl(key, '/v1/otp/verify', { ...body, code: '123456' }), 400, 'MAX_ATTEMPTS_EXCEEDED');
  });

  it("OTP_NOT_FOUND for another app's otp_id", async () => {
    const mine = await nepal();
    const other = await nepal();
    const sent = await curl(other.key, '/v1/otp/send', { ...DOC_SEND, phone: nextPhone() });
    expectError(
      await curl(mine.key, '/v1/otp/verify', { otp_id: sent.body.data.otp_id, code: '123456' }),
      404,
      'OTP_NOT_FOUND',
    );
  });
});

describe('Authentication', () => {
  it("refuses the doc's key format: otpd keys are otpd_live_… / otpd_test_…", async () => {
    expectError(await curl(DOC_KEY, '/v1/otp/send', DOC_SEND), 401, 'INVALID_API_KEY');
  });

  it('allows up to 3 active keys per app', async () => {
    const { app } = await nepal();
    const more = [];
    for (let i = 0; i < 3; i++) more.push(await h.admin('POST', `/admin/v1/apps/${app.id}/keys`));
    expect(more.map((r) => r.status)).toEqual([201, 201, 409]);
    expect(more[2]!.body.error.code).toBe('API_KEY_LIMIT_REACHED');
  });
});

describe('Transactional SMS', () => {
  it('TEMPLATE_NOT_FOUND for the documented template_id: otpd issues template ids', async () => {
    const { key } = await nepal();
    expectError(await curl(key, '/v1/sms/send', DOC_SMS), 404, 'TEMPLATE_NOT_FOUND');
  });

  it('sends the documented template with the documented variables once approved', async () => {
    const { key } = await nepal();
    const submitted = await curl(key, '/v1/templates', {
      name: 'Order shipped',
      body: DOC_TEMPLATE,
      use_case: 'Order confirmations',
    });
    expect(submitted.status).toBe(201);
    expect(submitted.body.data).toMatchObject({
      status: 'pending',
      variables: ['order_id', 'delivery_date', 'brand_name'],
    });
    const templateId = submitted.body.data.template_id;
    expectError(
      await curl(key, '/v1/sms/send', { ...DOC_SMS, template_id: templateId }),
      404,
      'TEMPLATE_NOT_FOUND',
    );

    expect((await h.admin('POST', `/admin/v1/templates/${templateId}/approve`)).status).toBe(200);
    const phone = nextPhone();
    const sent = await curl(key, '/v1/sms/send', { ...DOC_SMS, phone, template_id: templateId });
    expect(sent.status).toBe(201);
    expect(sent.body.data).toMatchObject({ message_id: expect.stringMatching(/^msg_/), status: 'queued' });
    await h.deliver();
    expect((await h.inbox(`+977${phone}`))[0]!.text).toBe(
      'Your order ORD-2024-0847 has been shipped.\nExpected delivery: Jan 18, 2024.\nThank you for shopping with ShopNP.',
    );

    // The doc's validation errors, with otpd's wording of its messages.
    const { order_id: _, ...missing } = DOC_SMS.variables;
    const noOrder = await curl(key, '/v1/sms/send', {
      ...DOC_SMS,
      template_id: templateId,
      variables: missing,
    });
    expectError(noOrder, 400, 'MISSING_VARIABLE');
    expect(noOrder.body.error.message).toBe("Required variable 'order_id' is missing.");
    const promo = await curl(key, '/v1/sms/send', {
      ...DOC_SMS,
      template_id: templateId,
      variables: { ...DOC_SMS.variables, promo_code: 'X' },
    });
    expectError(promo, 400, 'UNKNOWN_VARIABLE');
    expect(promo.body.error.message).toBe("Variable 'promo_code' is not defined in the template.");
  });
});
