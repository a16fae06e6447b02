import { beforeAll, describe, expect, it } from 'vitest';
import { sweepExpiredOtps } from '../../src/otp/expiry.js';
import { codeFromInbox, createHarness, type Harness } from '../harness.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});

let phones = 0;
/** A phone number no other test of this file uses (the inbox is shared by every tenant). */
const nextPhone = () => `+9779843${String(++phones).padStart(6, '0')}`;

async function send(key: string, body: Record<string, unknown>) {
  const res = await h.call('POST', '/v1/otp/send', { key, body });
  expect(res.status).toBe(201);
  return res.body.data as { otp_id: string; phone: string; expires_at: string; created_at: string };
}

const verify = (key: string, body: Record<string, unknown>) =>
  h.call('POST', '/v1/otp/verify', { key, body });
const resend = (key: string, body: Record<string, unknown>) =>
  h.call('POST', '/v1/otp/resend', { key, body });
const cancel = (key: string, otpId: string) => h.call('POST', `/v1/otp/${otpId}/cancel`, { key });
const status = async (key: string, otpId: string) =>
  (await h.call('GET', `/v1/otp/${otpId}`, { key })).body.data;
const storedOtp = (otpId: string) =>
  h.ctx.store.db.selectFrom('otps').selectAll().where('id', '=', otpId).executeTakeFirstOrThrow();
const iso = (ms: number) => new Date(ms).toISOString();

type Ending = 'verified' | 'canceled' | 'expired' | 'expired and swept' | 'max_attempts';

/** A sandbox OTP (code 123456) brought to an end through the API. */
async function endedOtp(key: string, ending: Ending): Promise<string> {
  const otp = await send(key, { phone: nextPhone(), expiry: 60 });
  switch (ending) {
    case 'verified':
      expect((await verify(key, { otp_id: otp.otp_id, code: '123456' })).status).toBe(200);
      break;
    case 'canceled':
      expect((await cancel(key, otp.otp_id)).status).toBe(200);
      break;
    case 'expired':
      h.clock.advance(60);
      break;
    case 'expired and swept':
      h.clock.advance(60);
      await sweepExpiredOtps(h.ctx);
      break;
    case 'max_attempts':
      for (let i = 0; i < 3; i++) await verify(key, { otp_id: otp.otp_id, code: '000000' });
      break;
  }
  return otp.otp_id;
}

/** What each ending answers on verify, resend and cancel. */
const ENDINGS: [Ending, number, string][] = [
  ['verified', 409, 'OTP_ALREADY_VERIFIED'],
  ['canceled', 400, 'OTP_CANCELED'],
  ['expired', 400, 'OTP_EXPIRED'],
  ['expired and swept', 400, 'OTP_EXPIRED'],
  ['max_attempts', 400, 'MAX_ATTEMPTS_EXCEEDED'],
];

const RECORD_FIELDS = [
  'app_id',
  'attempts',
  'attempts_remaining',
  'channel',
  'country',
  'created_at',
  'expires_at',
  'max_attempts',
  'metadata',
  'otp_id',
  'phone',
  'reference',
  'resend_available_at',
  'send_count',
  'status',
  'verified_at',
];

describe('POST /v1/otp/resend', () => {
  it('refuses a resend before the cooldown with 429 RATE_LIMIT_EXCEEDED, scope resend_cooldown, retry_after and Retry-After', async () => {
    const { key } = await h.tenant();
    const otp = await send(key, { phone: nextPhone() });
    const now = await resend(key, { otp_id: otp.otp_id });
    expect(now.status).toBe(429);
    expect(now.body.success).toBe(false);
    expect(now.body.error).toMatchObject({
      code: 'RATE_LIMIT_EXCEEDED',
      scope: 'resend_cooldown',
      retry_after: 60,
      otp_id: otp.otp_id,
      resend_available_at: iso(h.clock.now() + 60_000),
    });
    expect(now.headers['retry-after']).toBe('60');

    h.clock.advance(45);
    const later = await resend(key, { otp_id: otp.otp_id });
    expect(later.status).toBe(429);
    expect(later.body.error).toMatchObject({ scope: 'resend_cooldown', retry_after: 15 });
    expect(later.headers['retry-after']).toBe('15');
    expect((await status(key, otp.otp_id)).send_count).toBe(1);
  });

  it('sends the same code again after the cooldown', async () => {
    const { key } = await h.tenant({ environment: 'live' });
    const phone = nextPhone();
    const otp = await send(key, { phone });
    const first = await codeFromInbox(h, phone);
    h.clock.advance(60);
    const res = await resend(key, { otp_id: otp.otp_id });
    expect(res.status).toBe(200);
    expect(res.body.success).toBe(true);
    expect(Object.keys(res.body.data).sort()).toEqual(RECORD_FIELDS);
    expect(res.body.data).toMatchObject({
      otp_id: otp.otp_id,
      phone,
      channel: 'sms',
      status: 'pending',
      attempts_remaining: 3,
      send_count: 2,
      expires_at: otp.expires_at,
      resend_available_at: iso(h.clock.now() + 60_000),
    });
    const second = await codeFromInbox(h, phone);
    expect(second).toBe(first);
    const messages = await h.inbox(phone);
    expect(messages).toHaveLength(2);
    expect(messages[0]!.text).toBe(`Your Test app verification code is ${first}. It expires in 4 minutes.`);
    expect((await verify(key, { otp_id: otp.otp_id, code: second })).status).toBe(200);
  });

  it('switches the channel, to WhatsApp say, and keeps it for the OTP', async () => {
    const { key } = await h.tenant({ environment: 'live' });
    const phone = nextPhone();
    const otp = await send(key, { phone });
    const code = await codeFromInbox(h, phone);
    h.clock.advance(60);
    const res = await resend(key, { otp_id: otp.otp_id, channel: 'whatsapp' });
    expect(res.status).toBe(200);
    expect(res.body.data.channel).toBe('whatsapp');
    expect(await codeFromInbox(h, phone)).toBe(code);
    const [latest] = await h.inbox(phone);
    expect(latest!.channel).toBe('whatsapp');
    expect((await status(key, otp.otp_id)).channel).toBe('whatsapp');
  });

  it('refuses a channel the app has not enabled, without resending', async () => {
    const { key } = await h.tenant({ channels: ['sms'] });
    const otp = await send(key, { phone: nextPhone() });
    h.clock.advance(60);
    const res = await resend(key, { otp_id: otp.otp_id, channel: 'whatsapp' });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'UNSUPPORTED_CHANNEL', field: 'channel' });
    expect(await status(key, otp.otp_id)).toMatchObject({ channel: 'sms', send_count: 1 });
  });

  it('never resets the failed attempts count', async () => {
    const { key } = await h.tenant();
    const otp = await send(key, { phone: nextPhone() });
    expect((await verify(key, { otp_id: otp.otp_id, code: '000000' })).body.error.attempts_remaining).toBe(2);
    h.clock.advance(60);
    const res = await resend(key, { otp_id: otp.otp_id });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ attempts: 1, attempts_remaining: 2 });
    expect((await verify(key, { otp_id: otp.otp_id, code: '000000' })).body.error.attempts_remaining).toBe(1);
    expect((await verify(key, { otp_id: otp.otp_id, code: '000000' })).body.error.attempts_remaining).toBe(0);
    h.clock.advance(60);
    const after = await resend(key, { otp_id: otp.otp_id });
    expect(after.status).toBe(400);
    expect(after.body.error.code).toBe('MAX_ATTEMPTS_EXCEEDED');
    expect((await verify(key, { otp_id: otp.otp_id, code: '123456' })).body.error.code).toBe(
      'MAX_ATTEMPTS_EXCEEDED',
    );
  });

  it('increments send_count with each resend and keeps the expiry', async () => {
    const { key } = await h.tenant({ expiry: 600 });
    const otp = await send(key, { phone: nextPhone() });
    for (const count of [2, 3, 4]) {
      h.clock.advance(60);
      const res = await resend(key, { otp_id: otp.otp_id });
      expect(res.body.data).toMatchObject({ send_count: count, expires_at: otp.expires_at });
    }
    expect(await status(key, otp.otp_id)).toMatchObject({ send_count: 4, expires_at: otp.expires_at });
  });

  it('resends at once when the app’s cooldown is 0', async () => {
    const { key } = await h.tenant({ resend_cooldown: 0 });
    const otp = await send(key, { phone: nextPhone() });
    const res = await resend(key, { otp_id: otp.otp_id });
    expect(res.status).toBe(200);
    expect(res.body.data.send_count).toBe(2);
  });

  it('counts resends against the phone_hour limit and leaves a refused resend uncounted', async () => {
    const { key } = await h.tenant({ limits: { phone_hour: { max: 2, window: 3600 } } });
    const otp = await send(key, { phone: nextPhone() });
    h.clock.advance(60);
    expect((await resend(key, { otp_id: otp.otp_id })).status).toBe(200);
    h.clock.advance(60);
    const res = await resend(key, { otp_id: otp.otp_id });
    expect(res.status).toBe(429);
    expect(res.body.error).toMatchObject({ code: 'RATE_LIMIT_EXCEEDED', scope: 'phone_hour' });
    expect(res.headers['retry-after']).toBe(String(res.body.error.retry_after));
    expect((await status(key, otp.otp_id)).send_count).toBe(2);
  });

  it('answers 404 OTP_NOT_FOUND for an unknown otp_id', async () => {
    const { key } = await h.tenant();
    const res = await resend(key, { otp_id: 'otp_0000000000000000000000' });
    expect(res.status).toBe(404);
    expect(res.body.error).toMatchObject({ code: 'OTP_NOT_FOUND', field: 'otp_id' });
  });

  it.each([
    [{}, 'otp_id'],
    [{ otp_id: 'nope' }, 'otp_id'],
    [{ otp_id: 'otp_abc', channel: 'fax' }, 'channel'],
    [{ otp_id: 'otp_abc', extra: 1 }, 'extra'],
  ])('refuses %j with INVALID_REQUEST on %s', async (body, field) => {
    const { key } = await h.tenant();
    const res = await resend(key, body);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'INVALID_REQUEST', field });
  });

  it.each(ENDINGS)('answers a %s OTP with %i %s', async (ending, httpStatus, code) => {
    const { key } = await h.tenant({ resend_cooldown: 0 });
    const otpId = await endedOtp(key, ending);
    const res = await resend(key, { otp_id: otpId });
    expect(res.status).toBe(httpStatus);
    expect(res.body.error).toMatchObject({ code, otp_id: otpId });
    expect((await storedOtp(otpId)).send_count).toBe(1);
  });
});

describe('POST /v1/otp/{id}/cancel', () => {
  it('cancels a pending OTP and answers its record', async () => {
    const { key } = await h.tenant();
    const otp = await send(key, { phone: nextPhone(), reference: 'r-1' });
    const res = await cancel(key, otp.otp_id);
    expect(res.status).toBe(200);
    expect(res.body.success).toBe(true);
    expect(Object.keys(res.body.data).sort()).toEqual(RECORD_FIELDS);
    expect(res.body.data).toMatchObject({
      otp_id: otp.otp_id,
      status: 'canceled',
      reference: 'r-1',
      attempts_remaining: 0,
      resend_available_at: null,
      verified_at: null,
    });
    expect((await status(key, otp.otp_id)).status).toBe('canceled');
  });

  it('answers the canceled record again when cancelled twice', async () => {
    const { key } = await h.tenant();
    const otp = await send(key, { phone: nextPhone() });
    const first = await cancel(key, otp.otp_id);
    h.clock.advance(5);
    const second = await cancel(key, otp.otp_id);
    expect(second.status).toBe(200);
    expect(second.body.data).toEqual(first.body.data);
  });

  it('lets the phone get a new code once its OTP is canceled', async () => {
    const { key } = await h.tenant();
    const otp = await send(key, { phone: nextPhone() });
    await cancel(key, otp.otp_id);
    const again = await h.call('POST', '/v1/otp/send', { key, body: { phone: otp.phone } });
    expect(again.status).toBe(201);
    expect(again.body.data.otp_id).not.toBe(otp.otp_id);
  });

  it.each(ENDINGS.filter(([ending]) => ending !== 'canceled'))(
    'refuses to cancel a %s OTP with %i %s',
    async (ending, httpStatus, code) => {
      const { key } = await h.tenant();
      const otpId = await endedOtp(key, ending);
      const res = await cancel(key, otpId);
      expect(res.status).toBe(httpStatus);
      expect(res.body.error).toMatchObject({ code, otp_id: otpId });
      expect((await status(key, otpId)).status).not.toBe('canceled');
    },
  );

  it('answers 404 OTP_NOT_FOUND for an unknown id', async () => {
    const { key } = await h.tenant();
    for (const id of ['otp_0000000000000000000000', 'nonsense']) {
      const res = await cancel(key, id);
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('OTP_NOT_FOUND');
    }
  });
});

describe('terminal OTPs keep answering why they ended', () => {
  it.each(ENDINGS)('answers verify of a %s OTP with %i %s', async (ending, httpStatus, code) => {
    const { key } = await h.tenant();
    const otpId = await endedOtp(key, ending);
    const res = await verify(key, { otp_id: otpId, code: '123456' });
    expect(res.status).toBe(httpStatus);
    expect(res.body.error).toMatchObject({ code, otp_id: otpId });
  });

  it.each(ENDINGS)('shows a %s OTP’s status record', async (ending) => {
    const { key } = await h.tenant();
    const otpId = await endedOtp(key, ending);
    const res = await h.call('GET', `/v1/otp/${otpId}`, { key });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({
      otp_id: otpId,
      status: ending === 'expired and swept' ? 'expired' : ending,
      attempts_remaining: 0,
      resend_available_at: null,
    });
  });

  it.each(ENDINGS)('wipes the stored code copy of a %s OTP', async (ending) => {
    const { key } = await h.tenant();
    const otpId = await endedOtp(key, ending);
    if (ending === 'expired') await verify(key, { otp_id: otpId, code: '123456' });
    const row = await storedOtp(otpId);
    expect(row.status).toBe(ending === 'expired and swept' ? 'expired' : ending);
    expect(row.code_ciphertext).toBeNull();
    expect(row.code_hmac).not.toBe('123456');
    expect(row.code_hmac).not.toContain('123456');
    expect(row.ended_at).toBe(h.clock.now());
  });
});

describe('GET /v1/otp/{id}', () => {
  it('answers the status record and never the code', async () => {
    const { key, app } = await h.tenant({ environment: 'live' });
    const phone = nextPhone();
    const otp = await send(key, { phone, reference: 'ord-9', metadata: { a: 1 } });
    const code = await codeFromInbox(h, phone);
    const res = await h.call('GET', `/v1/otp/${otp.otp_id}`, { key });
    expect(res.status).toBe(200);
    expect(res.body.success).toBe(true);
    expect(Object.keys(res.body.data).sort()).toEqual(
      [...RECORD_FIELDS, 'deliveries', 'delivery_status'].sort(),
    );
    const { deliveries, delivery_status, ...record } = res.body.data;
    expect(delivery_status).toBe('delivered');
    expect(deliveries).toEqual([
      expect.objectContaining({ otp_id: otp.otp_id, channel: 'sms', status: 'delivered', provider: 'inbox' }),
    ]);
    expect(record).toEqual({
      otp_id: otp.otp_id,
      app_id: app.id,
      phone,
      country: 'NP',
      channel: 'sms',
      status: 'pending',
      reference: 'ord-9',
      metadata: { a: 1 },
      attempts: 0,
      max_attempts: 3,
      attempts_remaining: 3,
      send_count: 1,
      expires_at: otp.expires_at,
      resend_available_at: iso(h.clock.now() + 60_000),
      created_at: iso(h.clock.now()),
      verified_at: null,
    });
    expect(JSON.stringify(res.body)).not.toContain(code);
  });

  it('reports a pending OTP past its time as expired before any sweep', async () => {
    const { key } = await h.tenant();
    const otp = await send(key, { phone: nextPhone(), expiry: 60 });
    h.clock.advance(60);
    expect(await status(key, otp.otp_id)).toMatchObject({
      status: 'expired',
      attempts_remaining: 0,
      resend_available_at: null,
    });
  });

  it('answers 404 OTP_NOT_FOUND for an unknown or malformed id', async () => {
    const { key } = await h.tenant();
    for (const id of ['otp_0000000000000000000000', 'msg_abc', 'x']) {
      const res = await h.call('GET', `/v1/otp/${id}`, { key });
      expect(res.status).toBe(404);
      expect(res.body.success).toBe(false);
      expect(res.body.error.code).toBe('OTP_NOT_FOUND');
    }
  });
});

describe('GET /v1/otp/{id}/attempts', () => {
  it('lists each verification attempt with its time and outcome, oldest first', async () => {
    const { key } = await h.tenant();
    const otp = await send(key, { phone: nextPhone() });
    h.clock.advance(1);
    const wrongAt = h.clock.now();
    await verify(key, { otp_id: otp.otp_id, code: '000000' });
    h.clock.advance(1);
    const rightAt = h.clock.now();
    await verify(key, { otp_id: otp.otp_id, code: '123456' });
    const res = await h.call('GET', `/v1/otp/${otp.otp_id}/attempts`, { key });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ otp_id: otp.otp_id, attempts: 2, max_attempts: 3 });
    expect(res.body.data.items).toEqual([
      { id: expect.stringMatching(/^att_/), outcome: 'incorrect', created_at: iso(wrongAt) },
      { id: expect.stringMatching(/^att_/), outcome: 'correct', created_at: iso(rightAt) },
    ]);
  });

  it('lists attempts made within one millisecond in the order they were made', async () => {
    const { key } = await h.tenant({ max_attempts: 6 });
    const otp = await send(key, { phone: nextPhone() });
    for (let i = 0; i < 5; i++) await verify(key, { otp_id: otp.otp_id, code: '000000' });
    await verify(key, { otp_id: otp.otp_id, code: '123456' });
    const res = await h.call('GET', `/v1/otp/${otp.otp_id}/attempts`, { key });
    expect(res.body.data.items.map((a: { outcome: string }) => a.outcome)).toEqual([
      'incorrect',
      'incorrect',
      'incorrect',
      'incorrect',
      'incorrect',
      'correct',
    ]);
  });

  it('is empty before any attempt', async () => {
    const { key } = await h.tenant();
    const otp = await send(key, { phone: nextPhone() });
    const res = await h.call('GET', `/v1/otp/${otp.otp_id}/attempts`, { key });
    expect(res.body.data).toEqual({ otp_id: otp.otp_id, attempts: 0, max_attempts: 3, items: [] });
  });

  it('records no attempt for verifies refused because the OTP had ended', async () => {
    const { key } = await h.tenant();
    const otp = await send(key, { phone: nextPhone() });
    for (let i = 0; i < 5; i++) await verify(key, { otp_id: otp.otp_id, code: '000000' });
    await verify(key, { otp_id: otp.otp_id, code: '123456' });
    const res = await h.call('GET', `/v1/otp/${otp.otp_id}/attempts`, { key });
    expect(res.body.data.attempts).toBe(3);
    expect(res.body.data.items.map((a: { outcome: string }) => a.outcome)).toEqual([
      'incorrect',
      'incorrect',
      'incorrect',
    ]);
  });

  it('answers 404 OTP_NOT_FOUND for an unknown id', async () => {
    const { key } = await h.tenant();
    const res = await h.call('GET', '/v1/otp/otp_0000000000000000000000/attempts', { key });
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('OTP_NOT_FOUND');
  });
});

describe('GET /v1/otp', () => {
  /** One tenant with OTPs in every status, sent a second apart, oldest first. */
  async function population() {
    const tenant = await h.tenant({ default_country: 'NP' });
    const { key } = tenant;
    const at = (otp: { created_at: string }) => Date.parse(otp.created_at);
    const expired = await send(key, { phone: nextPhone(), expiry: 60, reference: 'shared' });
    h.clock.advance(61); // `expired` is now past its time, unswept
    const verified = await send(key, { phone: nextPhone(), reference: 'shared' });
    await verify(key, { otp_id: verified.otp_id, code: '123456' });
    h.clock.advance(1);
    const canceled = await send(key, { phone: nextPhone(), reference: 'solo' });
    await cancel(key, canceled.otp_id);
    h.clock.advance(1);
    const maxed = await send(key, { phone: nextPhone() });
    for (let i = 0; i < 3; i++) await verify(key, { otp_id: maxed.otp_id, code: '000000' });
    h.clock.advance(1);
    const pending = await send(key, { phone: verified.phone });
    h.clock.advance(1);
    const all = [pending, maxed, canceled, verified, expired]; // newest first
    return { ...tenant, expired, verified, canceled, maxed, pending, all, at };
  }

  const ids = (res: { body: { data: { items: { otp_id: string }[] } } }) =>
    res.body.data.items.map((item) => item.otp_id);

  it('lists the app’s OTPs newest first as status records', async () => {
    const p = await population();
    const res = await h.call('GET', '/v1/otp', { key: p.key });
    expect(res.status).toBe(200);
    expect(res.body.success).toBe(true);
    expect(ids(res)).toEqual(p.all.map((o) => o.otp_id));
    expect(res.body.data.next_cursor).toBeNull();
    for (const item of res.body.data.items) expect(Object.keys(item).sort()).toEqual(RECORD_FIELDS);
    expect(res.body.data.items.map((i: { status: string }) => i.status)).toEqual([
      'pending',
      'max_attempts',
      'canceled',
      'verified',
      'expired',
    ]);
  });

  it.each([
    ['pending', 'pending'],
    ['verified', 'verified'],
    ['canceled', 'canceled'],
    ['max_attempts', 'maxed'],
    ['expired', 'expired'],
  ] as const)('filters by status=%s, counting unswept expired OTPs as expired', async (filter, which) => {
    const p = await population();
    const res = await h.call('GET', `/v1/otp?status=${filter}`, { key: p.key });
    expect(res.status).toBe(200);
    expect(ids(res)).toEqual([p[which].otp_id]);
  });

  it('still finds an expired OTP by status after the sweep', async () => {
    const p = await population();
    await sweepExpiredOtps(h.ctx);
    expect(ids(await h.call('GET', '/v1/otp?status=expired', { key: p.key }))).toEqual([p.expired.otp_id]);
    expect(ids(await h.call('GET', '/v1/otp?status=pending', { key: p.key }))).toEqual([p.pending.otp_id]);
  });

  it('answers an empty page for status=failed', async () => {
    const p = await population();
    const res = await h.call('GET', '/v1/otp?status=failed', { key: p.key });
    expect(res.body.data).toEqual({ items: [], next_cursor: null });
  });

  it('filters by phone written in any form', async () => {
    const p = await population();
    const e164 = p.verified.phone;
    for (const form of [e164, e164.slice(4), `00${e164.slice(1)}`]) {
      const res = await h.call('GET', `/v1/otp?phone=${encodeURIComponent(form)}`, { key: p.key });
      expect(res.status).toBe(200);
      expect(ids(res)).toEqual([p.pending.otp_id, p.verified.otp_id]);
    }
  });

  it('refuses a phone filter that is not a number with INVALID_PHONE_FORMAT', async () => {
    const p = await population();
    const res = await h.call('GET', '/v1/otp?phone=not-a-number', { key: p.key });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'INVALID_PHONE_FORMAT', field: 'phone' });
  });

  it('filters by reference', async () => {
    const p = await population();
    expect(ids(await h.call('GET', '/v1/otp?reference=shared', { key: p.key }))).toEqual([
      p.verified.otp_id,
      p.expired.otp_id,
    ]);
    expect(ids(await h.call('GET', '/v1/otp?reference=solo', { key: p.key }))).toEqual([p.canceled.otp_id]);
    expect(ids(await h.call('GET', '/v1/otp?reference=none', { key: p.key }))).toEqual([]);
  });

  it('filters by from (inclusive) and to (exclusive) on the creation time', async () => {
    const p = await population();
    const q = (params: Record<string, string>) =>
      h.call('GET', `/v1/otp?${new URLSearchParams(params)}`, { key: p.key }).then(ids);
    expect(await q({ from: p.canceled.created_at })).toEqual([
      p.pending.otp_id,
      p.maxed.otp_id,
      p.canceled.otp_id,
    ]);
    expect(await q({ to: p.canceled.created_at })).toEqual([p.verified.otp_id, p.expired.otp_id]);
    expect(await q({ from: p.verified.created_at, to: p.maxed.created_at })).toEqual([
      p.canceled.otp_id,
      p.verified.otp_id,
    ]);
    expect(await q({ from: iso(p.at(p.pending) + 1) })).toEqual([]);
  });

  it('combines filters', async () => {
    const p = await population();
    const res = await h.call(
      'GET',
      `/v1/otp?reference=shared&status=verified&phone=${encodeURIComponent(p.verified.phone)}`,
      {
        key: p.key,
      },
    );
    expect(ids(res)).toEqual([p.verified.otp_id]);
  });

  it('pages with limit and cursor through every OTP exactly once', async () => {
    const p = await population();
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res: Awaited<ReturnType<Harness['call']>> = await h.call(
        'GET',
        `/v1/otp?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        { key: p.key },
      );
      expect(res.status).toBe(200);
      expect(res.body.data.items.length).toBeLessThanOrEqual(2);
      seen.push(...ids(res));
      cursor = res.body.data.next_cursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual(p.all.map((o) => o.otp_id));
  });

  it('answers no next_cursor when the page holds the last OTP exactly', async () => {
    const p = await population();
    const res = await h.call('GET', '/v1/otp?limit=5', { key: p.key });
    expect(res.body.data.items).toHaveLength(5);
    expect(res.body.data.next_cursor).toBeNull();
  });

  it('pages within a filter', async () => {
    const p = await population();
    const first = await h.call('GET', '/v1/otp?reference=shared&limit=1', { key: p.key });
    expect(ids(first)).toEqual([p.verified.otp_id]);
    expect(first.body.data.next_cursor).toEqual(expect.any(String));
    const second = await h.call(
      'GET',
      `/v1/otp?reference=shared&limit=1&cursor=${first.body.data.next_cursor}`,
      {
        key: p.key,
      },
    );
    expect(ids(second)).toEqual([p.expired.otp_id]);
    expect(second.body.data.next_cursor).toBeNull();
  });

  it('lists OTPs sent within one millisecond newest first, in the order they were sent', async () => {
    const { key } = await h.tenant();
    const sent = [];
    for (let i = 0; i < 6; i++) sent.push((await send(key, { phone: nextPhone() })).otp_id);
    expect(ids(await h.call('GET', '/v1/otp', { key }))).toEqual(sent.reverse());
  });

  it('answers an empty page for an app without OTPs', async () => {
    const { key } = await h.tenant();
    const res = await h.call('GET', '/v1/otp', { key });
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ items: [], next_cursor: null });
  });

  it.each([
    ['status=done', 'status'],
    ['limit=0', 'limit'],
    ['limit=101', 'limit'],
    ['limit=ten', 'limit'],
    ['from=yesterday', 'from'],
    ['to=2026-13-01', 'to'],
    ['surprise=1', 'surprise'],
    [`reference=${'r'.repeat(129)}`, 'reference'],
  ])('refuses ?%s with INVALID_REQUEST on %s', async (query, field) => {
    const { key } = await h.tenant();
    const res = await h.call('GET', `/v1/otp?${query}`, { key });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'INVALID_REQUEST', field });
  });

  it('never lists another tenant’s OTPs, whatever the filter', async () => {
    const p = await population();
    const other = await h.tenant({ default_country: 'NP' });
    const theirs = await send(other.key, { phone: p.pending.phone, reference: 'shared' });
    for (const query of [
      '',
      '?reference=shared',
      `?phone=${encodeURIComponent(p.pending.phone)}`,
      '?status=pending',
    ]) {
      const mine = ids(await h.call('GET', `/v1/otp${query}`, { key: p.key }));
      expect(mine).not.toContain(theirs.otp_id);
      const listed = ids(await h.call('GET', `/v1/otp${query}`, { key: other.key }));
      expect(listed).toEqual([theirs.otp_id]);
    }
  });
});

describe('another tenant', () => {
  it('answers 404 OTP_NOT_FOUND for a foreign otp_id on every endpoint and changes nothing', async () => {
    const owner = await h.tenant();
    const other = await h.tenant();
    const otp = await send(owner.key, { phone: nextPhone() });
    h.clock.advance(60);
    const calls = [
      () => verify(other.key, { otp_id: otp.otp_id, code: '123456' }),
      () => resend(other.key, { otp_id: otp.otp_id }),
      () => cancel(other.key, otp.otp_id),
      () => h.call('GET', `/v1/otp/${otp.otp_id}`, { key: other.key }),
      () => h.call('GET', `/v1/otp/${otp.otp_id}/attempts`, { key: other.key }),
    ];
    for (const call of calls) {
      const res = await call();
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('OTP_NOT_FOUND');
      expect(JSON.stringify(res.body)).not.toContain(otp.phone);
    }
    expect(await status(owner.key, otp.otp_id)).toMatchObject({
      status: 'pending',
      attempts: 0,
      send_count: 1,
    });
  });

  it('answers 404 OTP_NOT_FOUND for a foreign OTP that has ended, not its ending', async () => {
    const owner = await h.tenant();
    const other = await h.tenant();
    const otpId = await endedOtp(owner.key, 'verified');
    for (const res of [
      await verify(other.key, { otp_id: otpId, code: '123456' }),
      await resend(other.key, { otp_id: otpId }),
      await cancel(other.key, otpId),
    ]) {
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('OTP_NOT_FOUND');
    }
  });

  it('refuses a revoked key with 401 INVALID_API_KEY on every endpoint', async () => {
    const { app, key } = await h.tenant();
    const otp = await send(key, { phone: nextPhone() });
    const keys = await h.admin('GET', `/admin/v1/apps/${app.id}/keys`);
    expect((await h.admin('DELETE', `/admin/v1/keys/${keys.body.data.items[0].id}`)).status).toBe(200);
    h.clock.advance(60);
    const calls = [
      () => h.call('POST', '/v1/otp/send', { key, body: { phone: nextPhone() } }),
      () => verify(key, { otp_id: otp.otp_id, code: '123456' }),
      () => resend(key, { otp_id: otp.otp_id }),
      () => cancel(key, otp.otp_id),
      () => h.call('GET', `/v1/otp/${otp.otp_id}`, { key }),
      () => h.call('GET', `/v1/otp/${otp.otp_id}/attempts`, { key }),
      () => h.call('GET', '/v1/otp', { key }),
      () => h.call('GET', '/v1/logs', { key }),
    ];
    for (const call of calls) {
      const res = await call();
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('INVALID_API_KEY');
    }
    expect(await storedOtp(otp.otp_id)).toMatchObject({ status: 'pending', attempts: 0, send_count: 1 });
  });
});
