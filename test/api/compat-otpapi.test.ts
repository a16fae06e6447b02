import { beforeAll, describe, expect, it } from 'vitest';
import { codeFromInbox, createHarness, type Harness, parallel, type Response, tally } from '../harness.js';

/**
 * /compat/otpapi: the generic OTP API's documented requests
 * (generic-otp-api.txt), copied verbatim, against otpd with only the base
 * URL changed and the doc's placeholders (`your_app_id`, the OTP id) filled in.
 */

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});

const DOC_SEND = {
  appid: 'your_app_id',
  recipient: '+5511999888777',
  channel: 'sms',
  from: 'YourApp',
};
// The doc's body, without its `// optional` comment (which is not JSON).
const DOC_VERIFY = {
  appid: 'your_app_id',
  recipient: '+5511999888777',
  otp_code: '123456',
  verification_id: 'otp_67890abcdef12345',
};

let phones = 0;
/** A Brazilian mobile number no other test of this file uses. */
const nextPhone = () => `+55119${String(++phones).padStart(8, '0')}`;

/** A tenant with its key's id, for the X-API-Key + X-API-Secret form. */
async function tenant(policy: Parameters<Harness['tenant']>[0] = {}) {
  const t = await h.tenant(policy);
  const keys = await h.admin('GET', `/admin/v1/apps/${t.app.id}/keys`);
  return { ...t, keyId: keys.body.data.items[0].id as string, appid: t.app.id };
}

const headersOf = (key: string) => ({ 'x-api-key': key });
const post = (key: string, path: string, body: unknown) =>
  h.call('POST', `/compat/otpapi/otp/${path}`, { body, headers: headersOf(key) });
const get = (key: string, path: string, query: Record<string, string | number> = {}) => {
  const qs = new URLSearchParams(Object.entries(query).map(([k, v]): [string, string] => [k, String(v)]));
  return h.call('GET', `/compat/otpapi/otp/${path}${qs.size ? `?${qs}` : ''}`, { headers: headersOf(key) });
};

function expectOk(res: Response) {
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  expect(res.body.success).toBe(true);
  expect(res.body.request_id).toMatch(/^req_/);
  return res.body.data;
}

function expectError(res: Response, status: number, code: string, extras: Record<string, unknown> = {}) {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.body).toEqual({
    success: false,
    error: { code, message: expect.any(String), ...extras },
    request_id: expect.stringMatching(/^req_/),
  });
}

async function sendTo(t: { key: string; appid: string }, recipient = nextPhone()) {
  return expectOk(await post(t.key, 'send', { ...DOC_SEND, appid: t.appid, recipient })) as {
    verification_id: string;
    recipient: string;
  };
}

describe('the documented send and verify', () => {
  it('sends with the documented body and verifies with the documented body', async () => {
    const t = await tenant();
    const sent = expectOk(await post(t.key, 'send', { ...DOC_SEND, appid: t.appid }));
    expect(sent).toMatchObject({
      verification_id: expect.stringMatching(/^otp_/),
      appid: t.appid,
      recipient: '+5511999888777',
      channel: 'sms',
      status: 'pending',
      attempts_remaining: 3,
      expires_at: new Date(h.clock.now() + 300_000).toISOString(),
    });
    expect(sent).not.toHaveProperty('otp_id');
    expect(sent).not.toHaveProperty('phone');

    // Sandbox's fixed code is the doc's own otp_code.
    const verified = expectOk(
      await post(t.key, 'verify', { ...DOC_VERIFY, appid: t.appid, verification_id: sent.verification_id }),
    );
    expect(verified).toEqual({
      verified: true,
      verification_id: sent.verification_id,
      recipient: '+5511999888777',
      status: 'verified',
      reference: null,
      metadata: null,
      verified_at: new Date(h.clock.now()).toISOString(),
    });
  });

  it('sends from the sender id in `from`', async () => {
    const t = await tenant();
    const { verification_id } = await sendTo(t);
    const row = await h.ctx.store.db
      .selectFrom('otps')
      .select('sender_id')
      .where('id', '=', verification_id)
      .executeTakeFirstOrThrow();
    expect(row.sender_id).toBe('YourApp');
  });

  it('answers the documented placeholders as they are: no such app, no such verification', async () => {
    const t = await tenant();
    expectError(await post(t.key, 'send', DOC_SEND), 404, 'NOT_FOUND', { field: 'appid' });
    expectError(await post(t.key, 'verify', { ...DOC_VERIFY, appid: t.appid }), 404, 'OTP_NOT_FOUND', {
      field: 'verification_id',
    });
  });

  it('verifies by recipient alone (recipient is optional, and so is the id)', async () => {
    const t = await tenant();
    const sent = await sendTo(t);
    const { verification_id: _, ...byRecipient } = DOC_VERIFY;
    const verified = expectOk(
      await post(t.key, 'verify', { ...byRecipient, appid: t.appid, recipient: sent.recipient }),
    );
    expect(verified.verification_id).toBe(sent.verification_id);
  });

  it('never shows the code, in a live flow', async () => {
    const t = await tenant({ environment: 'live' });
    const recipient = nextPhone();
    const answers = [await post(t.key, 'send', { ...DOC_SEND, appid: t.appid, recipient })];
    const id = answers[0]!.body.data.verification_id;
    const code = await codeFromInbox(h, recipient);
    answers.push(
      await post(t.key, 'verify', { otp_code: code === '000000' ? '000001' : '000000', verification_id: id }),
    );
    h.clock.advance(60);
    answers.push(await post(t.key, 'resend', { verification_id: id }));
    answers.push(await get(t.key, 'status', { verification_id: id }));
    answers.push(await get(t.key, 'list'));
    answers.push(await get(t.key, 'logs', { verification_id: id }));
    answers.push(await get(t.key, 'attempts', { verification_id: id }));
    answers.push(await post(t.key, 'verify', { otp_code: code, verification_id: id }));
    answers.push(await get(t.key, 'reports'));
    for (const a of answers) {
      expect(a.status, JSON.stringify(a.body)).toBe(a === answers[1] ? 400 : 200);
      expect(JSON.stringify(a.body)).not.toContain(code);
    }
  });
});

describe('authentication', () => {
  it.each([
    ['X-API-Key with the key', (t: { key: string; keyId: string }) => ({ 'x-api-key': t.key })],
    [
      'X-API-Key with the key id and X-API-Secret with the key',
      (t: { key: string; keyId: string }) => ({ 'x-api-key': t.keyId, 'x-api-secret': t.key }),
    ],
    ['X-API-Secret alone', (t: { key: string; keyId: string }) => ({ 'x-api-secret': t.key })],
    [
      'X-API-Key and X-API-Secret both the key',
      (t: { key: string; keyId: string }) => ({ 'x-api-key': t.key, 'x-api-secret': t.key }),
    ],
    [
      'Basic username:password',
      (t: { key: string; keyId: string }) => ({
        authorization: `Basic ${Buffer.from(`${t.keyId}:${t.key}`).toString('base64')}`,
      }),
    ],
    ['Bearer', (t: { key: string; keyId: string }) => ({ authorization: `Bearer ${t.key}` })],
  ])('accepts %s', async (_name, headers) => {
    const t = await tenant();
    const res = await h.call('GET', '/compat/otpapi/otp/list', { headers: headers(t) });
    expectOk(res);
  });

  it.each([
    ['no key', () => ({})],
    ['a wrong X-API-Key', () => ({ 'x-api-key': 'nope' })],
    [
      'a wrong X-API-Secret',
      (t: { keyId: string }) => ({ 'x-api-key': t.keyId, 'x-api-secret': 'otpd_test_x' }),
    ],
    [
      "another key's id in X-API-Key",
      (t: { key: string }, other: { keyId: string }) => ({ 'x-api-key': other.keyId, 'x-api-secret': t.key }),
    ],
  ])('refuses %s with 401 INVALID_API_KEY', async (_name, headers) => {
    const t = await tenant();
    const other = await tenant();
    const res = await h.call('GET', '/compat/otpapi/otp/list', { headers: headers(t, other) });
    expectError(res, 401, 'INVALID_API_KEY');
  });

  it('refuses a key in the query string', async () => {
    const t = await tenant();
    const res = await h.call('GET', `/compat/otpapi/otp/list?api_key=${t.key}`, {
      headers: { 'x-api-key': t.keyId, 'x-api-secret': t.key },
    });
    expectError(res, 401, 'INVALID_API_KEY');
  });

  it("refuses an appid that is not the key's app, on every endpoint", async () => {
    const t = await tenant();
    const other = await tenant();
    const sent = await sendTo(t);
    const wrong = { appid: other.appid };
    for (const res of [
      await post(t.key, 'send', { ...DOC_SEND, ...wrong, recipient: nextPhone() }),
      await post(t.key, 'verify', { ...wrong, otp_code: '123456', verification_id: sent.verification_id }),
      await post(t.key, 'resend', { ...wrong, verification_id: sent.verification_id }),
      await get(t.key, 'status', { ...wrong, verification_id: sent.verification_id }),
      await get(t.key, 'list', wrong),
      await get(t.key, 'reports', wrong),
    ]) {
      expectError(res, 404, 'NOT_FOUND', { field: 'appid' });
    }
    expect(expectOk(await get(t.key, 'status', { verification_id: sent.verification_id })).status).toBe(
      'pending',
    );
  });
});

describe('verify errors', () => {
  it('INVALID_OTP with attempts_remaining, then MAX_ATTEMPTS_EXCEEDED', async () => {
    const t = await tenant();
    const { verification_id } = await sendTo(t);
    const wrong = { otp_code: '000000', verification_id };
    expectError(await post(t.key, 'verify', wrong), 400, 'INVALID_OTP', {
      attempts_remaining: 2,
      verification_id,
    });
    await post(t.key, 'verify', wrong);
    expectError(await post(t.key, 'verify', wrong), 400, 'INVALID_OTP', {
      attempts_remaining: 0,
      verification_id,
    });
    expectError(await post(t.key, 'verify', { ...wrong, otp_code: '123456' }), 400, 'MAX_ATTEMPTS_EXCEEDED', {
      attempts_remaining: 0,
      verification_id,
    });
  });

  it('OTP_EXPIRED, OTP_ALREADY_VERIFIED and OTP_CANCELED for ended verifications', async () => {
    const t = await tenant();
    const expired = await sendTo(t);
    h.clock.advance(301);
    expectError(
      await post(t.key, 'verify', { otp_code: '123456', verification_id: expired.verification_id }),
      400,
      'OTP_EXPIRED',
      {
        verification_id: expired.verification_id,
      },
    );
    const done = await sendTo(t);
    await post(t.key, 'verify', { otp_code: '123456', verification_id: done.verification_id });
    expectError(
      await post(t.key, 'verify', { otp_code: '123456', verification_id: done.verification_id }),
      409,
      'OTP_ALREADY_VERIFIED',
      { verification_id: done.verification_id },
    );
    const canceled = await sendTo(t);
    await h.call('POST', `/v1/otp/${canceled.verification_id}/cancel`, { key: t.key });
    expectError(
      await post(t.key, 'verify', { otp_code: '123456', verification_id: canceled.verification_id }),
      400,
      'OTP_CANCELED',
      { verification_id: canceled.verification_id },
    );
  });

  it('refuses a recipient that is not the verification’s, and a body naming neither', async () => {
    const t = await tenant();
    const sent = await sendTo(t);
    expectError(
      await post(t.key, 'verify', {
        otp_code: '123456',
        verification_id: sent.verification_id,
        recipient: nextPhone(),
      }),
      404,
      'OTP_NOT_FOUND',
      { field: 'recipient' },
    );
    expectError(await post(t.key, 'verify', { otp_code: '123456' }), 400, 'INVALID_REQUEST', {
      field: 'verification_id',
    });
  });

  it("answers 404 OTP_NOT_FOUND for another app's verification, and leaves it alone", async () => {
    const t = await tenant();
    const other = await tenant();
    const sent = await sendTo(other);
    expectError(
      await post(t.key, 'verify', { otp_code: '123456', verification_id: sent.verification_id }),
      404,
      'OTP_NOT_FOUND',
      { field: 'verification_id' },
    );
    expectError(
      await post(t.key, 'verify', { otp_code: '123456', recipient: sent.recipient }),
      404,
      'OTP_NOT_FOUND',
      {
        field: 'recipient',
      },
    );
    expect(
      expectOk(await get(other.key, 'attempts', { verification_id: sent.verification_id })).attempts,
    ).toBe(0);
  });

  it('of parallel right codes exactly one verifies', async () => {
    const t = await tenant();
    const { verification_id } = await sendTo(t);
    const answers = await parallel(8, () => post(t.key, 'verify', { otp_code: '123456', verification_id }));
    expect(tally(answers)).toEqual({ '200': 1, '409 OTP_ALREADY_VERIFIED': 7 });
  });
});

describe('send errors', () => {
  it('ACTIVE_OTP_EXISTS with the active verification_id', async () => {
    const t = await tenant();
    const sent = await sendTo(t);
    const again = await post(t.key, 'send', { ...DOC_SEND, appid: t.appid, recipient: sent.recipient });
    expectError(again, 409, 'ACTIVE_OTP_EXISTS', {
      verification_id: sent.verification_id,
      retry_after: 300,
      resend_available_at: expect.any(String),
    });
  });

  it('RATE_LIMIT_EXCEEDED with retry_after, scope and Retry-After', async () => {
    const t = await tenant({ limits: { phone_hour: { max: 1, window: 3600 } } });
    const sent = await sendTo(t);
    await post(t.key, 'verify', { otp_code: '123456', verification_id: sent.verification_id });
    const limited = await post(t.key, 'send', { ...DOC_SEND, appid: t.appid, recipient: sent.recipient });
    expectError(limited, 429, 'RATE_LIMIT_EXCEEDED', { retry_after: 3600, scope: 'phone_hour' });
    expect(limited.headers['retry-after']).toBe('3600');
  });

  it.each([
    [{ recipient: 'abc' }, 400, 'INVALID_PHONE_FORMAT', 'recipient'],
    [{ channel: 'email' }, 400, 'INVALID_REQUEST', 'channel'],
    [{ from: '' }, 400, 'INVALID_REQUEST', 'from'],
    [{ code_type: 'alphabetic', code_length: 4 }, 400, 'INVALID_REQUEST', 'code_length'],
    [{ message: 'Hello {name}, {code}' }, 400, 'INVALID_REQUEST', 'message'],
    [{ otp_code: '123456' }, 400, 'INVALID_REQUEST', 'otp_code'],
  ])('refuses %j', async (fields, status, code, field) => {
    const t = await tenant();
    expectError(await post(t.key, 'send', { ...DOC_SEND, appid: t.appid, ...fields }), status, code, {
      field,
    });
  });

  it('refuses a channel the app does not have', async () => {
    const t = await tenant({ channels: ['sms'], default_channel: 'sms' });
    expectError(
      await post(t.key, 'send', { ...DOC_SEND, appid: t.appid, channel: 'whatsapp' }),
      400,
      'UNSUPPORTED_CHANNEL',
      { field: 'channel' },
    );
  });

  it('refuses malformed JSON and a missing body', async () => {
    const t = await tenant();
    const res = await h.server.inject({
      method: 'POST',
      url: '/compat/otpapi/otp/send',
      headers: { 'x-api-key': t.key, 'content-type': 'application/json' },
      payload: '{',
    });
    expectError({ status: res.statusCode, headers: {}, body: res.json() }, 400, 'INVALID_JSON');
    expectError(
      await h.call('POST', '/compat/otpapi/otp/send', { headers: { 'x-api-key': t.key } }),
      400,
      'INVALID_REQUEST',
      { field: 'body' },
    );
  });

  it('answers unknown paths with 404 NOT_FOUND', async () => {
    const t = await tenant();
    expectError(await get(t.key, 'nope'), 404, 'NOT_FOUND');
  });
});

describe('resend', () => {
  it('waits for the cooldown, then sends the same code again, on another channel if asked', async () => {
    const t = await tenant();
    const sent = await sendTo(t);
    expectError(
      await post(t.key, 'resend', { verification_id: sent.verification_id }),
      429,
      'RATE_LIMIT_EXCEEDED',
      {
        scope: 'resend_cooldown',
        retry_after: 60,
        verification_id: sent.verification_id,
        resend_available_at: expect.any(String),
      },
    );
    h.clock.advance(60);
    const resent = expectOk(
      await post(t.key, 'resend', {
        appid: t.appid,
        verification_id: sent.verification_id,
        channel: 'whatsapp',
      }),
    );
    expect(resent).toMatchObject({
      verification_id: sent.verification_id,
      channel: 'whatsapp',
      send_count: 2,
    });
    await h.deliver();
    expect((await h.inbox(sent.recipient)).map((m) => m.channel)).toEqual(['whatsapp', 'sms']);
  });

  it("answers 404 for another app's verification", async () => {
    const t = await tenant();
    const other = await tenant();
    const sent = await sendTo(other);
    h.clock.advance(60);
    expectError(
      await post(t.key, 'resend', { verification_id: sent.verification_id }),
      404,
      'OTP_NOT_FOUND',
      {
        field: 'verification_id',
      },
    );
  });
});

describe('management endpoints', () => {
  it('status: the verification with its deliveries, in the reference words', async () => {
    const t = await tenant();
    const sent = await sendTo(t);
    await h.deliver();
    const status = expectOk(
      await get(t.key, 'status', { appid: t.appid, verification_id: sent.verification_id }),
    );
    expect(status).toMatchObject({
      verification_id: sent.verification_id,
      appid: t.appid,
      recipient: sent.recipient,
      status: 'pending',
      delivery_status: 'delivered',
    });
    expect(status.deliveries).toHaveLength(1);
    expect(status.deliveries[0]).toMatchObject({
      message_id: expect.stringMatching(/^msg_/),
      verification_id: sent.verification_id,
      recipient: sent.recipient,
      status: 'delivered',
    });
    expect(status.deliveries[0]).not.toHaveProperty('otp_id');
  });

  it('list: filters by recipient and status, pages with limit and cursor', async () => {
    const t = await tenant();
    const a = await sendTo(t);
    const b = await sendTo(t);
    await post(t.key, 'verify', { otp_code: '123456', verification_id: b.verification_id });
    const all = expectOk(await get(t.key, 'list', { appid: t.appid, limit: 1 }));
    expect(all.items.map((i: { verification_id: string }) => i.verification_id)).toEqual([b.verification_id]);
    const next = expectOk(await get(t.key, 'list', { limit: 1, cursor: all.next_cursor }));
    expect(next).toEqual({
      items: [expect.objectContaining({ verification_id: a.verification_id })],
      next_cursor: null,
    });
    const byRecipient = expectOk(await get(t.key, 'list', { recipient: a.recipient }));
    expect(byRecipient.items).toHaveLength(1);
    const verified = expectOk(await get(t.key, 'list', { status: 'verified' }));
    expect(verified.items.map((i: { recipient: string }) => i.recipient)).toEqual([b.recipient]);
  });

  it('logs: the activity of one verification, newest first', async () => {
    const t = await tenant();
    const sent = await sendTo(t);
    await post(t.key, 'verify', { otp_code: '000000', verification_id: sent.verification_id });
    await post(t.key, 'verify', { otp_code: '123456', verification_id: sent.verification_id });
    const logs = expectOk(await get(t.key, 'logs', { verification_id: sent.verification_id }));
    expect(logs.items.map((e: { type: string }) => e.type)).toEqual([
      'otp.verified',
      'otp.verification_failed',
      'otp.created',
    ]);
    expect(logs.items[0]).toMatchObject({ verification_id: sent.verification_id, appid: t.appid });
    // Another app's verification has no entries here.
    const other = await tenant();
    expect(expectOk(await get(other.key, 'logs', { verification_id: sent.verification_id })).items).toEqual(
      [],
    );
  });

  it('attempts: each verification attempt with its outcome', async () => {
    const t = await tenant();
    const sent = await sendTo(t);
    await post(t.key, 'verify', { otp_code: '000000', verification_id: sent.verification_id });
    await post(t.key, 'verify', { otp_code: '123456', verification_id: sent.verification_id });
    const attempts = expectOk(await get(t.key, 'attempts', { verification_id: sent.verification_id }));
    expect(attempts).toMatchObject({ verification_id: sent.verification_id, attempts: 2, max_attempts: 3 });
    expect(attempts.items.map((a: { outcome: string }) => a.outcome)).toEqual(['incorrect', 'correct']);
  });

  it.each(['status', 'attempts'])("%s: 404 for another app's verification", async (path) => {
    const t = await tenant();
    const other = await tenant();
    const sent = await sendTo(other);
    expectError(await get(t.key, path, { verification_id: sent.verification_id }), 404, 'OTP_NOT_FOUND');
  });

  it('rate-limits: what remains for the key and for a recipient', async () => {
    const t = await tenant();
    const sent = await sendTo(t);
    const limits = expectOk(await get(t.key, 'rate-limits', { recipient: sent.recipient }));
    expect(limits.resend_cooldown).toBe(60);
    expect(limits.limits).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ scope: 'phone_hour', max: 5, remaining: 4 }),
        expect.objectContaining({ scope: 'key_minute', max: 100, remaining: 99 }),
      ]),
    );
    expectError(await get(t.key, 'rate-limits', { recipient: 'abc' }), 400, 'INVALID_PHONE_FORMAT', {
      field: 'recipient',
    });
  });

  it('reports: counts by status and channel over a period', async () => {
    const t = await tenant();
    const start = h.clock.now();
    const verified = await sendTo(t);
    await post(t.key, 'verify', { otp_code: '123456', verification_id: verified.verification_id });
    const canceled = await sendTo(t);
    await h.call('POST', `/v1/otp/${canceled.verification_id}/cancel`, { key: t.key });
    expectOk(
      await post(t.key, 'send', { ...DOC_SEND, appid: t.appid, recipient: nextPhone(), channel: 'whatsapp' }),
    );
    await sendTo(t);
    h.clock.advance(301); // the last two lapse, unswept
    const report = expectOk(await get(t.key, 'reports', { appid: t.appid }));
    expect(report).toEqual({
      appid: t.appid,
      from: new Date(h.clock.now() - 30 * 86_400_000).toISOString(),
      to: new Date(h.clock.now()).toISOString(),
      total: 4,
      by_status: { pending: 0, verified: 1, expired: 2, canceled: 1, max_attempts: 0, failed: 0 },
      by_channel: { sms: 3, whatsapp: 1, voice: 0, rcs: 0 },
      verification_rate: 0.25,
    });
    const before = expectOk(
      await get(t.key, 'reports', {
        from: new Date(start - 60_000).toISOString(),
        to: new Date(start).toISOString(),
      }),
    );
    expect(before).toMatchObject({ total: 0, verification_rate: null });
    const other = await tenant();
    expect(expectOk(await get(other.key, 'reports')).total).toBe(0);
  });

  it.each([
    ['reports', { from: '2026-02-01T00:00:00Z', to: '2026-01-01T00:00:00Z' }, 'from'],
    ['reports', { from: '2020-01-01T00:00:00Z', to: '2026-01-01T00:00:00Z' }, 'from'],
    ['reports', { from: 'yesterday' }, 'from'],
    ['list', { status: 'done' }, 'status'],
    ['list', { limit: 500 }, 'limit'],
    ['status', {}, 'verification_id'],
    ['status', { verification_id: 'otp_x', extra: 1 }, 'extra'],
  ])('%s refuses %j', async (path, query, field) => {
    const t = await tenant();
    expectError(await get(t.key, path, query), 400, 'INVALID_REQUEST', { field });
  });
});
