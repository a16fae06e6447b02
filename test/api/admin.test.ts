import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, createHarness, type Harness } from '../harness.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});

async function account(name = 'Acme'): Promise<string> {
  const res = await h.admin('POST', '/admin/v1/accounts', { name });
  expect(res.status).toBe(201);
  return res.body.data.id;
}

async function app(body: Record<string, unknown> = {}): Promise<any> {
  const res = await h.admin('POST', '/admin/v1/apps', {
    account_id: body.account_id ?? (await account()),
    name: 'Checkout',
    environment: 'sandbox',
    ...body,
  });
  expect(res.status).toBe(201);
  return res.body.data;
}

const FULL_POLICY = {
  code_type: 'alphanumeric',
  code_length: 10,
  expiry: 900,
  max_attempts: 5,
  resend_cooldown: 120,
  channels: ['sms', 'voice'],
  default_channel: 'voice',
  default_country: 'NP',
  sender_id: 'ACME',
  message: '{app}: your code is {code}, valid {minutes} min',
  allowed_countries: ['NP', 'IN'],
  allow_custom_code: true,
  limits: { phone_hour: { max: 3, window: 1800 }, key_minute: { max: 20, window: 60 } },
};

describe('accounts', () => {
  it('creates an account with a zero balance', async () => {
    const res = await h.admin('POST', '/admin/v1/accounts', { name: 'Acme', email: 'ops@acme.test' });
    expect(res.status).toBe(201);
    expect(res.body.success).toBe(true);
    expect(res.body.data).toMatchObject({
      name: 'Acme',
      email: 'ops@acme.test',
      balance: 0,
      currency: 'USD',
    });
    expect(res.body.data.id).toMatch(/^acc_/);
    expect(Date.parse(res.body.data.created_at)).toBe(h.clock.now());
  });

  it('reads one account by id', async () => {
    const id = await account('Reader');
    const res = await h.admin('GET', `/admin/v1/accounts/${id}`);
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ id, name: 'Reader', email: null, balance: 0 });
  });

  it('lists every account exactly once across cursor pages', async () => {
    const created = new Set<string>();
    for (let i = 0; i < 5; i++) {
      created.add(await account(`Paged ${i}`));
      h.clock.advance(0.001);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await h.admin('GET', `/admin/v1/accounts?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      expect(res.body.data.items.length).toBeLessThanOrEqual(2);
      seen.push(...res.body.data.items.map((a: { id: string }) => a.id));
      cursor = res.body.data.next_cursor;
      pages++;
    } while (cursor && pages < 100);
    expect(cursor).toBeNull();
    expect(new Set(seen).size).toBe(seen.length);
    for (const id of created) expect(seen).toContain(id);
    expect([...seen]).toEqual([...seen].sort());
  });

  it.each([
    [{}, 'name'],
    [{ name: '' }, 'name'],
    [{ name: 'x'.repeat(101) }, 'name'],
    [{ name: 'Acme', email: 'not-an-email' }, 'email'],
    [{ name: 'Acme', currency: 'dollars' }, 'currency'],
    [{ name: 'Acme', balance: 1000 }, 'balance'],
  ])('refuses %j with INVALID_REQUEST on %s', async (body, field) => {
    const res = await h.admin('POST', '/admin/v1/accounts', body);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'INVALID_REQUEST', field });
  });

  it('refuses a page size out of bounds', async () => {
    for (const limit of ['0', '101', 'abc']) {
      const res = await h.admin('GET', `/admin/v1/accounts?limit=${limit}`);
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'INVALID_REQUEST', field: 'limit' });
    }
  });
});

describe('apps', () => {
  it('creates an app with default policy', async () => {
    const accountId = await account();
    const res = await h.admin('POST', '/admin/v1/apps', {
      account_id: accountId,
      name: 'Default',
      environment: 'live',
    });
    expect(res.status).toBe(201);
    expect(res.body.data).toMatchObject({
      account_id: accountId,
      name: 'Default',
      environment: 'live',
      code_type: 'numeric',
      code_length: 6,
      expiry: 300,
      max_attempts: 3,
      resend_cooldown: 60,
      channels: ['sms', 'whatsapp', 'voice', 'rcs'],
      default_channel: 'sms',
      default_country: null,
      sender_id: null,
      allowed_countries: null,
      allow_custom_code: false,
      limits: {},
    });
    expect(res.body.data.id).toMatch(/^app_/);
    expect(res.body.data.message).toContain('{code}');
  });

  it('creates an app with every policy field and reads it back', async () => {
    const created = await app(FULL_POLICY);
    expect(created).toMatchObject(FULL_POLICY);
    const read = await h.admin('GET', `/admin/v1/apps/${created.id}`);
    expect(read.status).toBe(200);
    expect(read.body.data).toEqual(created);
  });

  it('lists apps with cursor pagination and an account filter', async () => {
    const accountId = await account('Many apps');
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push((await app({ account_id: accountId, name: `App ${i}` })).id);
      h.clock.advance(0.001); // ids order by millisecond, then at random
    }
    const first = await h.admin('GET', `/admin/v1/apps?account_id=${accountId}&limit=2`);
    expect(first.body.data.items.map((a: { id: string }) => a.id)).toEqual(ids.slice(0, 2));
    expect(first.body.data.next_cursor).toBe(ids[1]);
    const second = await h.admin(
      'GET',
      `/admin/v1/apps?account_id=${accountId}&limit=2&cursor=${first.body.data.next_cursor}`,
    );
    expect(second.body.data).toEqual({ items: [expect.objectContaining({ id: ids[2] })], next_cursor: null });
  });

  it('changes only the fields a PATCH names', async () => {
    const created = await app(FULL_POLICY);
    h.clock.advance(5);
    const res = await h.admin('PATCH', `/admin/v1/apps/${created.id}`, { max_attempts: 7, name: 'Renamed' });
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({
      ...created,
      max_attempts: 7,
      name: 'Renamed',
      updated_at: new Date(h.clock.now()).toISOString(),
    });
  });

  it('resets the code length to the new type default when only code_type changes', async () => {
    const created = await app();
    const res = await h.admin('PATCH', `/admin/v1/apps/${created.id}`, { code_type: 'alphanumeric' });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ code_type: 'alphanumeric', code_length: 8 });
  });

  it('upper-cases country codes', async () => {
    const created = await app({ default_country: 'np', allowed_countries: ['np', 'in'] });
    expect(created).toMatchObject({ default_country: 'NP', allowed_countries: ['NP', 'IN'] });
  });

  it('applies a PATCH to the next send at once', async () => {
    const { app: created, key } = await h.tenant({ environment: 'live' });
    await h.admin('PATCH', `/admin/v1/apps/${created.id}`, { max_attempts: 9, expiry: 120 });
    const res = await h.call('POST', '/v1/otp/send', { key, body: { phone: '+9779841300001' } });
    expect(res.status).toBe(201);
    expect(res.body.data.attempts_remaining).toBe(9);
    expect(Date.parse(res.body.data.expires_at) - h.clock.now()).toBe(120_000);
  });

  it("merges limits by scope on PATCH, and null drops one scope's override", async () => {
    const created = await app({
      limits: { phone_hour: { max: 3, window: 1800 }, key_minute: { max: 20, window: 60 } },
    });
    const merged = await h.admin('PATCH', `/admin/v1/apps/${created.id}`, {
      limits: { ip_hour: { max: 4, window: 3600 } },
    });
    expect(merged.body.data.limits).toEqual({
      phone_hour: { max: 3, window: 1800 },
      key_minute: { max: 20, window: 60 },
      ip_hour: { max: 4, window: 3600 },
    });
    const dropped = await h.admin('PATCH', `/admin/v1/apps/${created.id}`, { limits: { phone_hour: null } });
    expect(dropped.body.data.limits).toEqual({
      key_minute: { max: 20, window: 60 },
      ip_hour: { max: 4, window: 3600 },
    });
  });

  it.each([
    [{ max_attempts: '5' }, 'max_attempts'],
    [{ allow_custom_code: 1 }, 'allow_custom_code'],
    [{ limits: { key_minute: { max: true, window: 60 } } }, 'limits.key_minute.max'],
    [{ limits: { key_minute: { max: '20', window: 60 } } }, 'limits.key_minute.max'],
  ])('takes JSON bodies as typed: PATCH %j → INVALID_REQUEST on %s', async (body, field) => {
    const created = await app();
    const res = await h.admin('PATCH', `/admin/v1/apps/${created.id}`, body);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'INVALID_REQUEST', field });
  });

  describe('refuses a policy out of bounds, naming the field', () => {
    it.each([
      [{ code_length: 9 }, 'code_length'],
      [{ code_type: 'alphabetic', code_length: 4 }, 'code_length'],
      [{ code_type: 'alphanumeric', code_length: 13 }, 'code_length'],
      [{ code_length: 3 }, 'code_length'],
      [{ expiry: 59 }, 'expiry'],
      [{ expiry: 86401 }, 'expiry'],
      [{ max_attempts: 0 }, 'max_attempts'],
      [{ max_attempts: 11 }, 'max_attempts'],
      [{ resend_cooldown: -1 }, 'resend_cooldown'],
      [{ resend_cooldown: 3601 }, 'resend_cooldown'],
      [{ channels: [] }, 'channels'],
      [{ channels: ['sms', 'fax'] }, 'channels.1'],
      [{ channels: ['sms', 'sms'] }, 'channels'],
      [{ channels: ['sms'], default_channel: 'voice' }, 'default_channel'],
      [{ default_channel: 'fax' }, 'default_channel'],
      [{ default_country: 'Nepal' }, 'default_country'],
      [{ sender_id: 'x'.repeat(21) }, 'sender_id'],
      [{ message: 'Your code is ready' }, 'message'],
      [{ message: 'Code {code} for {user}' }, 'message'],
      [{ allowed_countries: [] }, 'allowed_countries'],
      [{ allow_custom_code: 'yes' }, 'allow_custom_code'],
      [{ limits: { phone_week: { max: 5, window: 604800 } } }, 'limits.phone_week'],
      [{ limits: { phone_hour: { max: 0, window: 3600 } } }, 'limits.phone_hour.max'],
      [{ limits: { phone_hour: { max: 5, window: 604801 } } }, 'limits.phone_hour.window'],
      [{ limits: { phone_hour: { max: 5 } } }, 'limits.phone_hour.window'],
      [{ environment: 'staging' }, 'environment'],
      [{ surprise: true }, 'surprise'],
    ])('PATCH %j → INVALID_REQUEST on %s', async (body, field) => {
      const created = await app();
      const res = await h.admin('PATCH', `/admin/v1/apps/${created.id}`, body);
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'INVALID_REQUEST', field });
      expect(res.body.error.message).toEqual(expect.any(String));
      const after = await h.admin('GET', `/admin/v1/apps/${created.id}`);
      expect(after.body.data).toEqual(created);
    });

    it('on create as on change', async () => {
      const accountId = await account();
      const res = await h.admin('POST', '/admin/v1/apps', {
        account_id: accountId,
        name: 'Bad',
        environment: 'sandbox',
        channels: ['sms'],
        default_channel: 'whatsapp',
      });
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'INVALID_REQUEST', field: 'default_channel' });
    });

    it('checks code_length against a code_type set earlier', async () => {
      const created = await app({ code_type: 'alphabetic', code_length: 10 });
      const res = await h.admin('PATCH', `/admin/v1/apps/${created.id}`, { code_length: 12 });
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'INVALID_REQUEST', field: 'code_length' });
    });
  });

  it.each([
    [{ name: 'x', environment: 'sandbox' }, 'account_id'],
    [{ account_id: 'acc_x' }, 'name'],
    [{ account_id: 'acc_x', name: 'x' }, 'environment'],
  ])('refuses to create %j without %s', async (body, field) => {
    const res = await h.admin('POST', '/admin/v1/apps', body);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'INVALID_REQUEST', field });
  });
});

describe('API keys', () => {
  const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

  it('shows the secret once, at creation, and lists keys without it', async () => {
    const created = await app();
    const res = await h.admin('POST', `/admin/v1/apps/${created.id}/keys`);
    expect(res.status).toBe(201);
    const key = res.body.data;
    expect(key.secret).toMatch(/^otpd_test_[0-9A-Za-z]{36}$/);
    expect(key).toMatchObject({
      app_id: created.id,
      environment: 'sandbox',
      revoked_at: null,
      last_used_at: null,
    });
    expect(key.id).toMatch(/^key_/);
    expect(key.display).toBe(`${key.secret.slice(0, 14)}…${key.secret.slice(-4)}`);

    const list = await h.admin('GET', `/admin/v1/apps/${created.id}/keys`);
    expect(list.status).toBe(200);
    expect(list.body.data.next_cursor).toBeNull();
    expect(list.body.data.items).toEqual(
      [{ ...key, secret: undefined }].map(({ secret: _s, ...rest }) => rest),
    );
    expect(JSON.stringify(list.body)).not.toContain(key.secret);
    expect(JSON.stringify(list.body)).not.toContain(key.secret.slice(14, -4));

    const again = await h.admin('GET', `/admin/v1/apps/${created.id}`);
    expect(JSON.stringify(again.body)).not.toContain(key.secret);
  });

  it('makes live keys for live apps', async () => {
    const created = await app({ environment: 'live' });
    const res = await h.admin('POST', `/admin/v1/apps/${created.id}/keys`);
    expect(res.body.data.secret).toMatch(/^otpd_live_/);
    expect(res.body.data.environment).toBe('live');
  });

  it('keeps only the SHA-256 of the secret at rest', async () => {
    const created = await app();
    const { secret, id } = (await h.admin('POST', `/admin/v1/apps/${created.id}/keys`)).body.data;
    const row = await h.ctx.store.db
      .selectFrom('api_keys')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    expect(row.hash).toBe(sha256(secret));
    const middle = secret.slice(14, -4);
    for (const [column, value] of Object.entries(row)) {
      expect(String(value), column).not.toContain(secret);
      expect(String(value), column).not.toContain(middle);
    }
    // Nothing else in the database holds it either.
    for (const table of ['activity_log', 'meta', 'idempotency_keys'] as const) {
      const rows = await h.ctx.store.db.selectFrom(table).selectAll().execute();
      expect(JSON.stringify(rows)).not.toContain(middle);
    }
  });

  it('records when a key was last used', async () => {
    const { app: created, key } = await h.tenant();
    expect((await h.call('GET', '/v1/otp', { key })).status).toBe(200);
    const [listed] = (await h.admin('GET', `/admin/v1/apps/${created.id}/keys`)).body.data.items;
    expect(listed.last_used_at).toBe(new Date(h.clock.now()).toISOString());
  });

  it('allows at most 3 active keys per app, and another after a revocation', async () => {
    const { app: created } = await h.tenant(); // its first key
    const second = await h.admin('POST', `/admin/v1/apps/${created.id}/keys`);
    const third = await h.admin('POST', `/admin/v1/apps/${created.id}/keys`);
    expect([second.status, third.status]).toEqual([201, 201]);
    const fourth = await h.admin('POST', `/admin/v1/apps/${created.id}/keys`);
    expect(fourth.status).toBe(409);
    expect(fourth.body.error.code).toBe('API_KEY_LIMIT_REACHED');

    expect((await h.admin('DELETE', `/admin/v1/keys/${second.body.data.id}`)).status).toBe(200);
    expect((await h.admin('POST', `/admin/v1/apps/${created.id}/keys`)).status).toBe(201);
    const keys = (await h.admin('GET', `/admin/v1/apps/${created.id}/keys`)).body.data.items;
    expect(keys).toHaveLength(4);
    expect(keys.filter((k: { revoked_at: string | null }) => k.revoked_at === null)).toHaveLength(3);
  });

  it('holds the 3-key limit under parallel creation', async () => {
    const created = await app();
    const results = await Promise.all(
      Array.from({ length: 8 }, () => h.admin('POST', `/admin/v1/apps/${created.id}/keys`)),
    );
    expect(results.filter((r) => r.status === 201)).toHaveLength(3);
    expect(
      results.filter((r) => r.status === 409 && r.body.error.code === 'API_KEY_LIMIT_REACHED'),
    ).toHaveLength(5);
  });

  it('refuses a revoked key at once', async () => {
    const { app: created, key } = await h.tenant();
    expect((await h.call('GET', '/v1/otp', { key })).status).toBe(200);
    const [listed] = (await h.admin('GET', `/admin/v1/apps/${created.id}/keys`)).body.data.items;
    const revoked = await h.admin('DELETE', `/admin/v1/keys/${listed.id}`);
    expect(revoked.status).toBe(200);
    expect(revoked.body.data.revoked_at).toBe(new Date(h.clock.now()).toISOString());

    const refused = await h.call('GET', '/v1/otp', { key });
    expect(refused.status).toBe(401);
    expect(refused.body.error.code).toBe('INVALID_API_KEY');
    const send = await h.call('POST', '/v1/otp/send', { key, body: { phone: '+9779841300002' } });
    expect(send.status).toBe(401);
  });

  it('answers a second revocation with the first revocation time', async () => {
    const { app: created } = await h.tenant();
    const [listed] = (await h.admin('GET', `/admin/v1/apps/${created.id}/keys`)).body.data.items;
    const first = await h.admin('DELETE', `/admin/v1/keys/${listed.id}`);
    h.clock.advance(10);
    const second = await h.admin('DELETE', `/admin/v1/keys/${listed.id}`);
    expect(second.status).toBe(200);
    expect(second.body.data.revoked_at).toBe(first.body.data.revoked_at);
  });

  it('refuses existing test keys with ENVIRONMENT_MISMATCH once the app goes live', async () => {
    const { app: created, key } = await h.tenant();
    expect((await h.call('GET', '/v1/otp', { key })).status).toBe(200);
    const patched = await h.admin('PATCH', `/admin/v1/apps/${created.id}`, { environment: 'live' });
    expect(patched.status).toBe(200);
    expect(patched.body.data.environment).toBe('live');

    for (const [method, url, body] of [
      ['GET', '/v1/otp', undefined],
      ['POST', '/v1/otp/send', { phone: '+9779841300003' }],
    ] as const) {
      const res = await h.call(method, url, { key, body });
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe('ENVIRONMENT_MISMATCH');
    }
    const live = await h.admin('POST', `/admin/v1/apps/${created.id}/keys`);
    expect(live.body.data.secret).toMatch(/^otpd_live_/);
    expect((await h.call('GET', '/v1/otp', { key: live.body.data.secret })).status).toBe(200);
  });
});

describe('unknown ids', () => {
  it.each([
    ['GET', '/admin/v1/accounts/acc_doesnotexist', undefined],
    ['GET', '/admin/v1/apps/app_doesnotexist', undefined],
    ['PATCH', '/admin/v1/apps/app_doesnotexist', { max_attempts: 5 }],
    ['POST', '/admin/v1/apps/app_doesnotexist/keys', undefined],
    ['GET', '/admin/v1/apps/app_doesnotexist/keys', undefined],
    ['DELETE', '/admin/v1/keys/key_doesnotexist', undefined],
  ] as const)('%s %s → 404 NOT_FOUND', async (method, url, body) => {
    const res = await h.admin(method, url, body);
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ success: false, error: { code: 'NOT_FOUND' } });
    expect(res.body.request_id).toMatch(/^req_/);
  });

  it('answers 404 on account_id for an app under an unknown account', async () => {
    const res = await h.admin('POST', '/admin/v1/apps', {
      account_id: 'acc_nope',
      name: 'x',
      environment: 'live',
    });
    expect(res.status).toBe(404);
    expect(res.body.error).toMatchObject({ code: 'NOT_FOUND', field: 'account_id' });
  });
});

describe('operator authentication', () => {
  const routes = [
    ['GET', '/admin/v1/accounts'],
    ['POST', '/admin/v1/accounts'],
    ['GET', '/admin/v1/apps/app_x'],
    ['PATCH', '/admin/v1/apps/app_x'],
    ['DELETE', '/admin/v1/keys/key_x'],
    ['GET', '/admin/v1/inbox'],
  ] as const;

  it.each(routes)('%s %s without a token → 401 INVALID_ADMIN_TOKEN', async (method, url) => {
    const res = await h.call(method, url, {
      body: method === 'GET' || method === 'DELETE' ? undefined : { name: 'x' },
    });
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('INVALID_ADMIN_TOKEN');
  });

  it.each([
    ['a wrong token', `${ADMIN_TOKEN}x`],
    ['a prefix of the token', ADMIN_TOKEN.slice(0, -1)],
    ['an empty token', ''],
  ])('refuses %s', async (_name, token) => {
    const res = await h.call('GET', '/admin/v1/accounts', { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('INVALID_ADMIN_TOKEN');
  });

  it('does not take an API key as the operator token', async () => {
    const { key } = await h.tenant();
    for (const headers of [{ authorization: `Bearer ${key}` }, { 'x-api-key': key }] as Record<
      string,
      string
    >[]) {
      const res = await h.call('GET', '/admin/v1/accounts', { headers });
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('INVALID_ADMIN_TOKEN');
    }
  });

  it('does not take the operator token as an API key', async () => {
    const res = await h.call('GET', '/v1/otp', { key: ADMIN_TOKEN });
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('INVALID_API_KEY');
  });

  it('creates nothing for an unauthenticated request', async () => {
    const before = await h.ctx.store.db.selectFrom('accounts').select('id').execute();
    await h.call('POST', '/admin/v1/accounts', {
      body: { name: 'Intruder' },
      headers: { authorization: 'Bearer nope' },
    });
    const after = await h.ctx.store.db.selectFrom('accounts').select('id').execute();
    expect(after).toHaveLength(before.length);
  });
});

describe('GET /admin/v1/inbox', () => {
  it('lists delivered messages newest first, with their text, filtered by phone', async () => {
    const { key } = await h.tenant();
    const a = '+9779841300010';
    const b = '+9779841300011';
    await h.call('POST', '/v1/otp/send', { key, body: { phone: a } });
    await h.deliver();
    h.clock.advance(1);
    await h.call('POST', '/v1/otp/send', { key, body: { phone: b } });
    await h.deliver();

    const onlyA = await h.admin('GET', `/admin/v1/inbox?phone=${encodeURIComponent(a)}`);
    expect(onlyA.status).toBe(200);
    expect(onlyA.body.data.items).toHaveLength(1);
    expect(onlyA.body.data.items[0]).toMatchObject({ phone: a, channel: 'sms', environment: 'sandbox' });
    expect(onlyA.body.data.items[0].text).toContain('123456');

    const all = await h.admin('GET', '/admin/v1/inbox?limit=200');
    const phones = all.body.data.items.map((m: { phone: string }) => m.phone);
    expect(phones.indexOf(b)).toBeLessThan(phones.indexOf(a));
  });

  it('reads the phone filter in any written form', async () => {
    const { key } = await h.tenant();
    await h.call('POST', '/v1/otp/send', { key, body: { phone: '+9779841300012' } });
    await h.deliver();
    const res = await h.admin('GET', `/admin/v1/inbox?phone=${encodeURIComponent('00977 984-1300012')}`);
    expect(res.body.data.items.map((m: { phone: string }) => m.phone)).toEqual(['+9779841300012']);
  });

  it('limits the number of messages', async () => {
    const { key } = await h.tenant();
    for (const phone of ['+9779841300013', '+9779841300014', '+9779841300015']) {
      await h.call('POST', '/v1/otp/send', { key, body: { phone } });
    }
    await h.deliver();
    const res = await h.admin('GET', '/admin/v1/inbox?limit=2');
    expect(res.body.data.items).toHaveLength(2);
  });

  it('refuses a bad phone filter', async () => {
    const res = await h.admin('GET', '/admin/v1/inbox?phone=not-a-phone');
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'INVALID_PHONE_FORMAT', field: 'phone' });
  });
});

describe('operator token rotation', () => {
  it('accepts only OTPD_ADMIN_TOKEN once it is set, not the token init stored', async () => {
    const { initialize } = await import('../../src/tenancy/init.js');
    const fresh = await createHarness();
    const made = await initialize(fresh.ctx);
    expect(made).not.toBeNull();
    const old = await fresh.call('GET', '/admin/v1/accounts', { key: made!.admin_token });
    expect(old.status).toBe(401);
    expect(old.body.error.code).toBe('INVALID_ADMIN_TOKEN');
    expect((await fresh.admin('GET', '/admin/v1/accounts')).status).toBe(200);
  });
});

describe('first-run setup', () => {
  it('leaves nothing behind when it fails half-way, so the next start sets up afresh', async () => {
    const { initialize } = await import('../../src/tenancy/init.js');
    const fresh = await createHarness();
    let calls = 0;
    // Time runs out on the third read: after the marker and the account were written.
    const failing = {
      ...fresh.ctx,
      clock: {
        now: () => {
          if (++calls >= 3) throw new Error('process died');
          return Date.now();
        },
      },
    };
    await expect(initialize(failing)).rejects.toThrow('process died');
    const db = fresh.ctx.store.db;
    expect(await db.selectFrom('meta').selectAll().execute()).toEqual([]);
    expect(await db.selectFrom('accounts').selectAll().execute()).toEqual([]);
    const setUp = await initialize(fresh.ctx);
    expect(setUp).not.toBeNull();
    expect(await initialize(fresh.ctx)).toBeNull();
  });
});

describe('policy bounds in the service', () => {
  it('refuses out-of-bounds values from callers that bypass the HTTP schemas (the CLI)', async () => {
    const { changeApp } = await import('../../src/tenancy/apps.js');
    const { app: created } = await h.tenant();
    for (const [changes, field] of [
      [{ max_attempts: 1000 }, 'max_attempts'],
      [{ expiry: -5 }, 'expiry'],
      [{ resend_cooldown: -100 }, 'resend_cooldown'],
      [{ sender_id: 'x'.repeat(500) }, 'sender_id'],
    ] as const) {
      await expect(changeApp(h.ctx, created.id, changes)).rejects.toMatchObject({
        code: 'INVALID_REQUEST',
        extras: { field },
      });
    }
  });
});
