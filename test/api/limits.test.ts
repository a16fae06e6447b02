import { beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness, type Response } from '../harness.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});

const phone = (n: number) => `+9779841${String(n).padStart(6, '0')}`;
const send = (key: string, to: string, extra: Record<string, unknown> = {}) =>
  h.call('POST', '/v1/otp/send', { key, body: { phone: to, ...extra } });
const resend = (key: string, otp_id: string, extra: Record<string, unknown> = {}) =>
  h.call('POST', '/v1/otp/resend', { key, body: { otp_id, ...extra } });
const cancel = (key: string, otp_id: string) => h.call('POST', `/v1/otp/${otp_id}/cancel`, { key });

/** Sends a code and cancels it at once, so that the phone may be sent to again. */
async function sendAndCancel(key: string, to: string, extra: Record<string, unknown> = {}): Promise<void> {
  const res = await send(key, to, extra);
  expect(res.status).toBe(201);
  expect((await cancel(key, res.body.data.otp_id)).status).toBe(200);
}

function expectLimited(res: Response, scope: string, retryAfter: number): void {
  expect(res.status).toBe(429);
  expect(res.body.success).toBe(false);
  expect(res.body.error).toMatchObject({ code: 'RATE_LIMIT_EXCEEDED', scope, retry_after: retryAfter });
  expect(res.body.error.message).toEqual(expect.any(String));
  expect(res.headers['retry-after']).toBe(String(retryAfter));
}

interface LimitView {
  scope: string;
  max: number;
  window: number;
  remaining: number;
  reset_at: string | null;
}

async function rateLimits(
  key: string,
  query = '',
): Promise<{ limits: LimitView[]; resend_cooldown: number }> {
  const res = await h.call('GET', `/v1/rate-limits${query}`, { key });
  expect(res.status).toBe(200);
  return res.body.data;
}

async function scopeOf(key: string, scope: string, query = ''): Promise<LimitView> {
  const found = (await rateLimits(key, query)).limits.find((l) => l.scope === scope);
  if (!found) throw new Error(`no ${scope} in /v1/rate-limits${query}`);
  return found;
}

const isoIn = (seconds: number) => new Date(h.clock.now() + seconds * 1000).toISOString();

describe('per-phone limits', () => {
  it('phone_hour refuses the send past max, with scope and Retry-After, until the window reopens', async () => {
    const { key } = await h.tenant({ limits: { phone_hour: { max: 2, window: 3600 } } });
    await sendAndCancel(key, phone(1));
    await sendAndCancel(key, phone(1));
    expectLimited(await send(key, phone(1)), 'phone_hour', 3600);
    // Another number of the same app is not affected.
    expect((await send(key, phone(2))).status).toBe(201);

    h.clock.advance(3599);
    expectLimited(await send(key, phone(1)), 'phone_hour', 1);
    h.clock.advance(1);
    expect((await send(key, phone(1))).status).toBe(201);
  });

  it('phone_day counts across hours', async () => {
    const { key } = await h.tenant({ limits: { phone_day: { max: 3, window: 86400 } } });
    await sendAndCancel(key, phone(1));
    h.clock.advance(3600);
    await sendAndCancel(key, phone(1));
    h.clock.advance(3600);
    await sendAndCancel(key, phone(1));
    h.clock.advance(3600);
    // phone_hour has room (its window reopened); phone_day is full since the first send.
    expectLimited(await send(key, phone(1)), 'phone_day', 86400 - 3 * 3600);
    h.clock.advance(86400 - 3 * 3600 - 1);
    expectLimited(await send(key, phone(1)), 'phone_day', 1);
    h.clock.advance(1);
    expect((await send(key, phone(1))).status).toBe(201);
  });

  it('applies the defaults (5 per hour) when the app sets no limits', async () => {
    const { key } = await h.tenant();
    for (let i = 0; i < 5; i++) await sendAndCancel(key, phone(1));
    expectLimited(await send(key, phone(1)), 'phone_hour', 3600);
  });

  it('counts every written form of one number as one number', async () => {
    const { key } = await h.tenant({
      default_country: 'NP',
      limits: { phone_hour: { max: 2, window: 3600 } },
    });
    await sendAndCancel(key, '+977 984-1000001');
    await sendAndCancel(key, '009779841000001');
    expectLimited(await send(key, '9841000001'), 'phone_hour', 3600);
    expect((await scopeOf(key, 'phone_hour', '?phone=9841000001')).remaining).toBe(0);
  });
});

describe('per-key limits', () => {
  it('key_minute refuses the send past max until the minute is over', async () => {
    const { key } = await h.tenant({ limits: { key_minute: { max: 2, window: 60 } } });
    expect((await send(key, phone(1))).status).toBe(201);
    expect((await send(key, phone(2))).status).toBe(201);
    h.clock.advance(20);
    expectLimited(await send(key, phone(3)), 'key_minute', 40);
    h.clock.advance(39);
    expectLimited(await send(key, phone(3)), 'key_minute', 1);
    h.clock.advance(1);
    expect((await send(key, phone(3))).status).toBe(201);
    expect((await send(key, phone(4))).status).toBe(201);
    expectLimited(await send(key, phone(5)), 'key_minute', 60);
  });

  it('key_day refuses the send past max for the rest of the day', async () => {
    const { key } = await h.tenant({ limits: { key_day: { max: 3, window: 86400 } } });
    for (const n of [1, 2, 3]) expect((await send(key, phone(n))).status).toBe(201);
    expectLimited(await send(key, phone(4)), 'key_day', 86400);
    h.clock.advance(60);
    expectLimited(await send(key, phone(4)), 'key_day', 86400 - 60);
    h.clock.advance(86400 - 60);
    expect((await send(key, phone(4))).status).toBe(201);
  });

  it('counts per key: another key of the same app has its own key scopes, but shares the phone scopes', async () => {
    const { app, key } = await h.tenant({
      limits: { key_minute: { max: 1, window: 60 }, phone_hour: { max: 1, window: 3600 } },
    });
    const created = await h.admin('POST', `/admin/v1/apps/${app.id}/keys`);
    expect(created.status).toBe(201);
    const other = created.body.data.secret as string;

    const first = await send(key, phone(1));
    expect(first.status).toBe(201);
    expectLimited(await send(key, phone(2)), 'key_minute', 60);
    expect((await send(other, phone(2))).status).toBe(201);

    // phone_hour belongs to the app: the other key cannot send to phone(1) again either.
    expect((await cancel(key, first.body.data.otp_id)).status).toBe(200);
    h.clock.advance(60);
    expectLimited(await send(other, phone(1)), 'phone_hour', 3600 - 60);
  });

  it('leaves another tenant unaffected', async () => {
    const limits = {
      key_minute: { max: 1, window: 60 },
      phone_hour: { max: 1, window: 3600 },
      ip_hour: { max: 1, window: 3600 },
    };
    const a = await h.tenant({ limits });
    const b = await h.tenant({ limits });
    expect((await send(a.key, phone(1), { ip: '203.0.113.9' })).status).toBe(201);
    expectLimited(await send(a.key, phone(2), { ip: '203.0.113.9' }), 'key_minute', 60);

    // Same phone, same end-user IP, another app: counted from zero.
    expect((await send(b.key, phone(1), { ip: '203.0.113.9' })).status).toBe(201);
    const view = await rateLimits(b.key, `?phone=${encodeURIComponent(phone(1))}&ip=203.0.113.9`);
    expect(Object.fromEntries(view.limits.map((l) => [l.scope, l.remaining]))).toEqual({
      phone_hour: 0,
      phone_day: 9,
      key_minute: 0,
      key_day: 9999,
      ip_hour: 0,
    });
    expect(
      (await rateLimits(a.key, `?phone=${encodeURIComponent(phone(2))}`)).limits.find(
        (l) => l.scope === 'phone_hour',
      )!.remaining,
    ).toBe(1);
  });
});

describe('ip_hour', () => {
  it('counts only sends that carry ip, per IP', async () => {
    const { key } = await h.tenant({ limits: { ip_hour: { max: 2, window: 3600 } } });
    expect((await send(key, phone(1), { ip: '203.0.113.7' })).status).toBe(201);
    expect((await send(key, phone(2), { ip: '203.0.113.7' })).status).toBe(201);
    expectLimited(await send(key, phone(3), { ip: '203.0.113.7' }), 'ip_hour', 3600);
    // Another IP, and sends without an IP, are not held back by it.
    expect((await send(key, phone(3), { ip: '2001:db8::1' })).status).toBe(201);
    for (const n of [4, 5, 6]) expect((await send(key, phone(n))).status).toBe(201);

    expect(await scopeOf(key, 'ip_hour', '?ip=203.0.113.7')).toMatchObject({
      max: 2,
      window: 3600,
      remaining: 0,
    });
    expect(await scopeOf(key, 'ip_hour', `?ip=${encodeURIComponent('2001:db8::1')}`)).toMatchObject({
      remaining: 1,
    });

    h.clock.advance(3600);
    expect((await send(key, phone(7), { ip: '203.0.113.7' })).status).toBe(201);
  });

  it('charges a resend to the IP of its send', async () => {
    const { key } = await h.tenant({ resend_cooldown: 0, limits: { ip_hour: { max: 2, window: 3600 } } });
    const sent = await send(key, phone(1), { ip: '203.0.113.8' });
    expect(sent.status).toBe(201);
    expect((await resend(key, sent.body.data.otp_id)).status).toBe(200);
    expectLimited(await resend(key, sent.body.data.otp_id), 'ip_hour', 3600);
  });
});

describe('resends', () => {
  it('count against the limits like sends', async () => {
    const { key } = await h.tenant({ resend_cooldown: 0, limits: { phone_hour: { max: 3, window: 3600 } } });
    const sent = await send(key, phone(1));
    const otpId = sent.body.data.otp_id as string;
    expect((await resend(key, otpId)).status).toBe(200);
    expect((await resend(key, otpId)).status).toBe(200);
    expectLimited(await resend(key, otpId), 'phone_hour', 3600);

    // The refused resend was not recorded.
    const status = await h.call('GET', `/v1/otp/${otpId}`, { key });
    expect(status.body.data.send_count).toBe(3);
    expect(await scopeOf(key, 'key_minute')).toMatchObject({ remaining: 97 });
    expect(await scopeOf(key, 'phone_hour', `?phone=${encodeURIComponent(phone(1))}`)).toMatchObject({
      remaining: 0,
    });
  });

  it('answer the cooldown as scope resend_cooldown, charging nothing', async () => {
    const { key } = await h.tenant({ resend_cooldown: 45 });
    const sent = await send(key, phone(1));
    const otpId = sent.body.data.otp_id as string;
    h.clock.advance(15);
    const early = await resend(key, otpId);
    expectLimited(early, 'resend_cooldown', 30);
    expect(early.body.error.otp_id).toBe(otpId);
    expect(await scopeOf(key, 'phone_hour', `?phone=${encodeURIComponent(phone(1))}`)).toMatchObject({
      remaining: 4,
    });
    expect(await scopeOf(key, 'key_minute')).toMatchObject({ remaining: 99 });

    h.clock.advance(30);
    expect((await resend(key, otpId)).status).toBe(200);
    expect(await scopeOf(key, 'phone_hour', `?phone=${encodeURIComponent(phone(1))}`)).toMatchObject({
      remaining: 3,
    });
  });
});

describe('a refused send charges no scope', () => {
  it('when the phone has an active code (ACTIVE_OTP_EXISTS)', async () => {
    const { key } = await h.tenant({ limits: { key_minute: { max: 2, window: 60 } } });
    expect((await send(key, phone(1))).status).toBe(201);
    for (let i = 0; i < 3; i++) {
      const again = await send(key, phone(1));
      expect(again.status).toBe(409);
      expect(again.body.error.code).toBe('ACTIVE_OTP_EXISTS');
    }
    expect(await scopeOf(key, 'phone_hour', `?phone=${encodeURIComponent(phone(1))}`)).toMatchObject({
      remaining: 4,
    });
    expect(await scopeOf(key, 'key_day')).toMatchObject({ remaining: 9999 });
    // The second key_minute unit is still there.
    expect((await send(key, phone(2))).status).toBe(201);
    expectLimited(await send(key, phone(3)), 'key_minute', 60);
  });

  it('when a later scope is full: the earlier scopes are rolled back too', async () => {
    const { key } = await h.tenant({ limits: { key_minute: { max: 1, window: 60 } } });
    expect((await send(key, phone(1), { ip: '203.0.113.5' })).status).toBe(201);
    // phone_hour and phone_day of phone(2) are taken before key_minute refuses.
    expectLimited(await send(key, phone(2), { ip: '198.51.100.5' }), 'key_minute', 60);
    expectLimited(await send(key, phone(2), { ip: '198.51.100.5' }), 'key_minute', 60);

    const view = await rateLimits(key, `?phone=${encodeURIComponent(phone(2))}&ip=198.51.100.5`);
    for (const l of view.limits.filter((x) => !x.scope.startsWith('key_'))) {
      expect(l, l.scope).toMatchObject({ remaining: l.max, reset_at: null });
    }
    expect(await scopeOf(key, 'key_day')).toMatchObject({ remaining: 9999 });
    // Nor was the OTP kept.
    const list = await h.call('GET', `/v1/otp?phone=${encodeURIComponent(phone(2))}`, { key });
    expect(list.body.data.items).toEqual([]);
  });

  it('when an earlier scope is full: the key scopes are not charged', async () => {
    const { key } = await h.tenant({
      limits: { phone_hour: { max: 1, window: 3600 }, key_minute: { max: 3, window: 60 } },
    });
    await sendAndCancel(key, phone(1));
    expectLimited(await send(key, phone(1)), 'phone_hour', 3600);
    expectLimited(await send(key, phone(1)), 'phone_hour', 3600);
    expect(await scopeOf(key, 'key_minute')).toMatchObject({ remaining: 2 });
    expect((await send(key, phone(2))).status).toBe(201);
    expect((await send(key, phone(3))).status).toBe(201);
    expectLimited(await send(key, phone(4)), 'key_minute', 60);
  });

  it('when the request is invalid', async () => {
    const { key } = await h.tenant({ allowed_countries: ['NP'] });
    expect((await send(key, 'nonsense')).body.error.code).toBe('INVALID_PHONE_FORMAT');
    expect((await send(key, '+14155552671')).body.error.code).toBe('COUNTRY_NOT_ALLOWED');
    expect((await send(key, phone(1), { expiry: 5 })).body.error.code).toBe('INVALID_REQUEST');
    expect(await scopeOf(key, 'key_minute')).toMatchObject({ remaining: 100, reset_at: null });
    expect(await scopeOf(key, 'phone_hour', `?phone=${encodeURIComponent(phone(1))}`)).toMatchObject({
      remaining: 5,
    });
  });
});

describe('GET /v1/rate-limits', () => {
  it("shows the key's scopes, with the app's overrides and the defaults, before any send", async () => {
    const { key } = await h.tenant({ resend_cooldown: 45, limits: { key_minute: { max: 7, window: 30 } } });
    expect(await rateLimits(key)).toEqual({
      limits: [
        { scope: 'key_minute', max: 7, window: 30, remaining: 7, reset_at: null },
        { scope: 'key_day', max: 10000, window: 86400, remaining: 10000, reset_at: null },
      ],
      resend_cooldown: 45,
    });
  });

  it('shows what remains and when each window resets, also for a phone', async () => {
    const { key } = await h.tenant({
      default_country: 'NP',
      limits: { phone_hour: { max: 3, window: 3600 } },
    });
    const sentAt = isoIn(0);
    expect((await send(key, phone(1))).status).toBe(201);
    h.clock.advance(10);

    const data = await rateLimits(key, '?phone=9841000001');
    expect(data.resend_cooldown).toBe(60);
    const t0 = Date.parse(sentAt);
    expect(data.limits).toEqual([
      {
        scope: 'phone_hour',
        max: 3,
        window: 3600,
        remaining: 2,
        reset_at: new Date(t0 + 3600_000).toISOString(),
      },
      {
        scope: 'phone_day',
        max: 10,
        window: 86400,
        remaining: 9,
        reset_at: new Date(t0 + 86400_000).toISOString(),
      },
      {
        scope: 'key_minute',
        max: 100,
        window: 60,
        remaining: 99,
        reset_at: new Date(t0 + 60_000).toISOString(),
      },
      {
        scope: 'key_day',
        max: 10000,
        window: 86400,
        remaining: 9999,
        reset_at: new Date(t0 + 86400_000).toISOString(),
      },
    ]);

    // A phone that was never sent to has full windows.
    const fresh = await rateLimits(key, `?phone=${encodeURIComponent(phone(2))}`);
    expect(fresh.limits.slice(0, 2)).toEqual([
      { scope: 'phone_hour', max: 3, window: 3600, remaining: 3, reset_at: null },
      { scope: 'phone_day', max: 10, window: 86400, remaining: 10, reset_at: null },
    ]);

    // Once a window has passed it shows full again, with no reset time.
    h.clock.advance(50);
    expect(await scopeOf(key, 'key_minute')).toEqual({
      scope: 'key_minute',
      max: 100,
      window: 60,
      remaining: 100,
      reset_at: null,
    });
    expect(await scopeOf(key, 'phone_hour', '?phone=9841000001')).toMatchObject({ remaining: 2 });
  });

  it('refuses a bad phone, unknown parameters and requests without a key', async () => {
    const { key } = await h.tenant();
    const bad = await h.call('GET', '/v1/rate-limits?phone=12345', { key });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'INVALID_PHONE_FORMAT', field: 'phone' });
    const unknown = await h.call('GET', '/v1/rate-limits?scope=key_minute', { key });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toMatchObject({ code: 'INVALID_REQUEST', field: 'scope' });
    const anonymous = await h.call('GET', '/v1/rate-limits');
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.error.code).toBe('INVALID_API_KEY');
  });
});

describe('limit configuration through the admin API', () => {
  const bad: [string, unknown, string][] = [
    ['max 0', { key_minute: { max: 0, window: 60 } }, 'limits.key_minute.max'],
    ['negative max', { phone_hour: { max: -1, window: 3600 } }, 'limits.phone_hour.max'],
    ['max above 1,000,000', { key_day: { max: 1_000_001, window: 86400 } }, 'limits.key_day.max'],
    ['fractional max', { key_minute: { max: 1.5, window: 60 } }, 'limits.key_minute.max'],
    ['window 0', { key_minute: { max: 5, window: 0 } }, 'limits.key_minute.window'],
    ['window above 7 days', { phone_day: { max: 5, window: 604801 } }, 'limits.phone_day.window'],
    ['fractional window', { ip_hour: { max: 5, window: 0.5 } }, 'limits.ip_hour.window'],
    ['missing window', { key_minute: { max: 5 } }, 'limits.key_minute.window'],
    ['missing max', { key_minute: { window: 60 } }, 'limits.key_minute.max'],
    ['unknown field in a limit', { key_minute: { max: 5, window: 60, burst: 2 } }, 'limits.key_minute.burst'],
    ['unknown scope', { per_second: { max: 5, window: 1 } }, 'limits.per_second'],
    ['a limit that is not an object', { key_minute: 5 }, 'limits.key_minute'],
    ['limits that are not an object', 'strict', 'limits'],
  ];

  it.each(bad)('creating an app refuses %s', async (_name, limits, field) => {
    const account = await h.admin('POST', '/admin/v1/accounts', { name: 'Limits' });
    const res = await h.admin('POST', '/admin/v1/apps', {
      account_id: account.body.data.id,
      name: 'Limited',
      environment: 'sandbox',
      limits,
    });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'INVALID_REQUEST', field });
    const apps = await h.admin('GET', `/admin/v1/apps?account_id=${account.body.data.id}`);
    expect(apps.body.data.items).toEqual([]);
  });

  it.each(bad)('changing an app refuses %s and leaves it as it was', async (_name, limits, field) => {
    const good = { key_minute: { max: 2, window: 60 } };
    const { app, key } = await h.tenant({ limits: good });
    const res = await h.admin('PATCH', `/admin/v1/apps/${app.id}`, { limits });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'INVALID_REQUEST', field });
    expect((await h.admin('GET', `/admin/v1/apps/${app.id}`)).body.data.limits).toEqual(good);
    expect(await scopeOf(key, 'key_minute')).toMatchObject({ max: 2, window: 60 });
  });

  it('applies limits set on create and changed by PATCH to the next send', async () => {
    const account = await h.admin('POST', '/admin/v1/accounts', { name: 'Limits' });
    const created = await h.admin('POST', '/admin/v1/apps', {
      account_id: account.body.data.id,
      name: 'Limited',
      environment: 'sandbox',
      limits: { key_minute: { max: 3, window: 60 } },
    });
    expect(created.status).toBe(201);
    expect(created.body.data.limits).toEqual({ key_minute: { max: 3, window: 60 } });
    const appId = created.body.data.id as string;
    const key = (await h.admin('POST', `/admin/v1/apps/${appId}/keys`)).body.data.secret as string;

    expect((await send(key, phone(1))).status).toBe(201);
    expect((await send(key, phone(2))).status).toBe(201);

    const patched = await h.admin('PATCH', `/admin/v1/apps/${appId}`, {
      limits: { key_minute: { max: 2, window: 120 } },
    });
    expect(patched.status).toBe(200);
    expect(patched.body.data.limits).toEqual({ key_minute: { max: 2, window: 120 } });
    // The open window keeps its count; the new max applies at once.
    expectLimited(await send(key, phone(3)), 'key_minute', 60);
    expect(await scopeOf(key, 'key_minute')).toMatchObject({ max: 2, window: 120, remaining: 0 });
  });
});
