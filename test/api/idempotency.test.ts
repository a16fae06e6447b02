import { beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, codeFromInbox, createHarness, type Harness } from '../harness.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});

/** A POST with an Idempotency-Key, answering the raw text too. */
async function post(url: string, options: { key: string; body: unknown; idempotencyKey?: string }) {
  const res = await h.server.inject({
    method: 'POST',
    url,
    headers: {
      authorization: `Bearer ${options.key}`,
      ...(options.idempotencyKey !== undefined ? { 'idempotency-key': options.idempotencyKey } : {}),
    },
    payload: options.body as object,
  });
  return { status: res.statusCode, headers: res.headers, text: res.body, body: res.json() };
}

async function count(
  table: 'otps' | 'messages' | 'accounts' | 'api_keys' | 'otp_attempts' | 'rate_limits',
): Promise<number> {
  const row = await h.ctx.store.db
    .selectFrom(table)
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

async function rateCounts(): Promise<string> {
  const rows = await h.ctx.store.db.selectFrom('rate_limits').selectAll().orderBy('key').execute();
  return JSON.stringify(rows);
}

describe('Idempotency-Key on POST /v1/otp/send', () => {
  it('replays the first response byte for byte and creates nothing new', async () => {
    const { key } = await h.tenant();
    const body = { phone: '+9779841500001', reference: 'order-1' };
    const first = await post('/v1/otp/send', { key, body, idempotencyKey: 'send-1' });
    expect(first.status).toBe(201);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    const before = {
      otps: await count('otps'),
      messages: await count('messages'),
      limits: await rateCounts(),
    };

    h.clock.advance(5);
    const replay = await post('/v1/otp/send', { key, body, idempotencyKey: 'send-1' });
    expect(replay.status).toBe(201);
    expect(replay.text).toBe(first.text);
    expect(replay.body.data.otp_id).toBe(first.body.data.otp_id);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.headers['content-type']).toBe(first.headers['content-type']);
    expect({
      otps: await count('otps'),
      messages: await count('messages'),
      limits: await rateCounts(),
    }).toEqual(before);
  });

  it('keeps the X-Request-Id of a replay equal to its request_id', async () => {
    const { key } = await h.tenant();
    const body = { phone: '+9779841500002' };
    await post('/v1/otp/send', { key, body, idempotencyKey: 'rid' });
    const replay = await post('/v1/otp/send', { key, body, idempotencyKey: 'rid' });
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.headers['x-request-id']).toBe(replay.body.request_id);
  });

  it('sends again without a key: the second send is refused as ACTIVE_OTP_EXISTS', async () => {
    const { key } = await h.tenant();
    const body = { phone: '+9779841500003' };
    expect((await post('/v1/otp/send', { key, body })).status).toBe(201);
    expect((await post('/v1/otp/send', { key, body })).body.error.code).toBe('ACTIVE_OTP_EXISTS');
  });

  it('takes the same body with its keys in another order as the same request', async () => {
    const { key } = await h.tenant();
    const first = await post('/v1/otp/send', {
      key,
      body: { phone: '+9779841500009', reference: 'r', metadata: { a: 1, b: 2 } },
      idempotencyKey: 'order-insensitive',
    });
    const replay = await post('/v1/otp/send', {
      key,
      body: { metadata: { b: 2, a: 1 }, reference: 'r', phone: '+9779841500009' },
      idempotencyKey: 'order-insensitive',
    });
    expect(first.status).toBe(201);
    expect(replay.status).toBe(201);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.body.data.otp_id).toBe(first.body.data.otp_id);
  });

  it('answers the same key with another body with 422 IDEMPOTENCY_KEY_REUSED', async () => {
    const { key } = await h.tenant();
    const first = await post('/v1/otp/send', {
      key,
      body: { phone: '+9779841500004' },
      idempotencyKey: 'reuse',
    });
    expect(first.status).toBe(201);
    const otps = await count('otps');
    const other = await post('/v1/otp/send', {
      key,
      body: { phone: '+9779841500005' },
      idempotencyKey: 'reuse',
    });
    expect(other.status).toBe(422);
    expect(other.body).toMatchObject({ success: false, error: { code: 'IDEMPOTENCY_KEY_REUSED' } });
    expect(await count('otps')).toBe(otps);
  });

  it('answers 409 IDEMPOTENCY_CONFLICT while the first request is in flight', async () => {
    const { app, key } = await h.tenant();
    const body = { phone: '+9779841500006' };
    const first = await post('/v1/otp/send', { key, body, idempotencyKey: 'busy' });
    // Put the finished request back in flight, as if its process were still working on it.
    await h.ctx.store.db
      .updateTable('idempotency_keys')
      .set({
        state: 'in_flight',
        response_status: null,
        response_body: null,
        locked_until: h.clock.now() + 60_000,
      })
      .where('scope_key', '=', `${app.id}:busy`)
      .execute();

    const conflict = await post('/v1/otp/send', { key, body, idempotencyKey: 'busy' });
    expect(conflict.status).toBe(409);
    expect(conflict.body.error.code).toBe('IDEMPOTENCY_CONFLICT');
    const reused = await post('/v1/otp/send', {
      key,
      body: { phone: '+9779841500007' },
      idempotencyKey: 'busy',
    });
    expect(reused.status).toBe(422);

    // A claim whose process died is taken over once its lock runs out.
    h.clock.advance(301);
    const retried = await post('/v1/otp/send', { key, body, idempotencyKey: 'busy' });
    expect(retried.status).toBe(201);
    expect(retried.body.data.otp_id).not.toBe(first.body.data.otp_id);
    expect((await post('/v1/otp/send', { key, body, idempotencyKey: 'busy' })).text).toBe(retried.text);
  });

  it('answers a fresh in-flight row for an unseen key with 409 and creates nothing', async () => {
    const { app, key } = await h.tenant();
    await h.ctx.store.db
      .insertInto('idempotency_keys')
      .values({
        scope_key: `${app.id}:inserted`,
        request_hash: 'whatever',
        state: 'in_flight',
        response_status: null,
        response_body: null,
        locked_until: h.clock.now() + 60_000,
        expires_at: h.clock.now() + 86_400_000,
      })
      .execute();
    const otps = await count('otps');
    const res = await post('/v1/otp/send', {
      key,
      body: { phone: '+9779841500008' },
      idempotencyKey: 'inserted',
    });
    expect([409, 422]).toContain(res.status);
    expect(['IDEMPOTENCY_CONFLICT', 'IDEMPOTENCY_KEY_REUSED']).toContain(res.body.error.code);
    expect(await count('otps')).toBe(otps);
  });

  it('lets exactly one of two parallel identical requests through', async () => {
    const { key } = await h.tenant();
    const body = { phone: '+9779841500009' };
    const otps = await count('otps');
    const results = await Promise.all(
      Array.from({ length: 6 }, () => post('/v1/otp/send', { key, body, idempotencyKey: 'parallel' })),
    );
    const created = results.filter((r) => r.status === 201 && r.headers['idempotent-replayed'] === undefined);
    expect(created).toHaveLength(1);
    for (const r of results) {
      if (r === created[0]) continue;
      if (r.status === 409) expect(r.body.error.code).toBe('IDEMPOTENCY_CONFLICT');
      else expect(r.text).toBe(created[0]!.text);
    }
    expect(await count('otps')).toBe(otps + 1);
  });

  it('scopes keys by app: another tenant may use the same key', async () => {
    const a = await h.tenant();
    const b = await h.tenant();
    const ra = await post('/v1/otp/send', {
      key: a.key,
      body: { phone: '+9779841500010' },
      idempotencyKey: 'shared',
    });
    const rb = await post('/v1/otp/send', {
      key: b.key,
      body: { phone: '+9779841500011' },
      idempotencyKey: 'shared',
    });
    const rb2 = await post('/v1/otp/send', {
      key: b.key,
      body: { phone: '+9779841500010' },
      idempotencyKey: 'shared-2',
    });
    expect([ra.status, rb.status, rb2.status]).toEqual([201, 201, 201]);
    expect(rb.body.data.otp_id).not.toBe(ra.body.data.otp_id);
    expect(rb.headers['idempotent-replayed']).toBeUndefined();
  });

  it('does not keep a 429: the retry after the window is served fresh', async () => {
    const { key } = await h.tenant({ limits: { key_minute: { max: 1, window: 60 } } });
    expect((await post('/v1/otp/send', { key, body: { phone: '+9779841500012' } })).status).toBe(201);
    const body = { phone: '+9779841500013' };
    const limited = await post('/v1/otp/send', { key, body, idempotencyKey: 'after-429' });
    expect(limited.status).toBe(429);
    h.clock.advance(61);
    const retried = await post('/v1/otp/send', { key, body, idempotencyKey: 'after-429' });
    expect(retried.status).toBe(201);
    expect(retried.headers['idempotent-replayed']).toBeUndefined();
  });

  it('keeps a 4xx answer and replays it', async () => {
    const { key } = await h.tenant({ allowed_countries: ['NP'] });
    const body = { phone: '+14155552671' };
    const first = await post('/v1/otp/send', { key, body, idempotencyKey: 'country' });
    expect(first.status).toBe(403);
    const replay = await post('/v1/otp/send', { key, body, idempotencyKey: 'country' });
    expect(replay.status).toBe(403);
    expect(replay.text).toBe(first.text);
    expect(replay.headers['idempotent-replayed']).toBe('true');
  });

  it('replays Retry-After with a kept ACTIVE_OTP_EXISTS', async () => {
    const { key } = await h.tenant();
    const body = { phone: '+9779841500018' };
    await post('/v1/otp/send', { key, body });
    const first = await post('/v1/otp/send', { key, body, idempotencyKey: 'active' });
    expect(first.status).toBe(409);
    h.clock.advance(10);
    const replay = await post('/v1/otp/send', { key, body, idempotencyKey: 'active' });
    expect(replay.text).toBe(first.text);
    expect(replay.headers['retry-after']).toBe(first.headers['retry-after']);
  });

  it('forgets a key after 24 hours', async () => {
    const { key } = await h.tenant();
    const first = await post('/v1/otp/send', {
      key,
      body: { phone: '+9779841500014' },
      idempotencyKey: 'daily',
    });
    h.clock.advance(24 * 3600 - 10);
    const stillReplayed = await post('/v1/otp/send', {
      key,
      body: { phone: '+9779841500014' },
      idempotencyKey: 'daily',
    });
    expect(stillReplayed.text).toBe(first.text);
    expect(
      (await post('/v1/otp/send', { key, body: { phone: '+9779841500015' }, idempotencyKey: 'daily' }))
        .status,
    ).toBe(422);

    h.clock.advance(11);
    const other = await post('/v1/otp/send', {
      key,
      body: { phone: '+9779841500015' },
      idempotencyKey: 'daily',
    });
    expect(other.status).toBe(201);
    expect(other.headers['idempotent-replayed']).toBeUndefined();
    const again = await post('/v1/otp/send', {
      key,
      body: { phone: '+9779841500015' },
      idempotencyKey: 'daily',
    });
    expect(again.text).toBe(other.text);
  });

  it.each([
    ['empty', ''],
    ['too long', 'k'.repeat(256)],
    ['with a space', 'two words'],
    ['non-ASCII', 'ключ'],
  ])('refuses an Idempotency-Key that is %s with 400', async (_name, idempotencyKey) => {
    const { key } = await h.tenant();
    const otps = await count('otps');
    const res = await h.server.inject({
      method: 'POST',
      url: '/v1/otp/send',
      headers: {
        authorization: `Bearer ${key}`,
        'idempotency-key': Buffer.from(idempotencyKey).toString('latin1'),
      },
      payload: { phone: '+9779841500016' },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatchObject({ code: 'INVALID_REQUEST', field: 'Idempotency-Key' });
    expect(await count('otps')).toBe(otps);
  });

  it('accepts a key of 255 visible characters', async () => {
    const { key } = await h.tenant();
    const res = await post('/v1/otp/send', {
      key,
      body: { phone: '+9779841500017' },
      idempotencyKey: '~'.repeat(255),
    });
    expect(res.status).toBe(201);
  });
});

describe('Idempotency-Key on POST /v1/otp/verify', () => {
  it('replays a verification instead of answering OTP_ALREADY_VERIFIED', async () => {
    const { key } = await h.tenant();
    const sent = await post('/v1/otp/send', { key, body: { phone: '+9779841500020' } });
    const body = { otp_id: sent.body.data.otp_id, code: '123456' };
    const first = await post('/v1/otp/verify', { key, body, idempotencyKey: 'verify-1' });
    expect(first.status).toBe(200);
    expect(first.body.data.verified).toBe(true);
    const replay = await post('/v1/otp/verify', { key, body, idempotencyKey: 'verify-1' });
    expect(replay.status).toBe(200);
    expect(replay.text).toBe(first.text);
    const fresh = await post('/v1/otp/verify', { key, body, idempotencyKey: 'verify-2' });
    expect(fresh.body.error.code).toBe('OTP_ALREADY_VERIFIED');
  });

  it('does not count another attempt when a wrong code is replayed', async () => {
    const { key } = await h.tenant({ environment: 'live' });
    const phone = '+9779841500021';
    const sent = await post('/v1/otp/send', { key, body: { phone } });
    const otpId = sent.body.data.otp_id;
    const code = await codeFromInbox(h, phone);
    const wrong = code === '000000' ? '111111' : '000000';

    const first = await post('/v1/otp/verify', {
      key,
      body: { otp_id: otpId, code: wrong },
      idempotencyKey: 'wrong',
    });
    expect(first.status).toBe(400);
    expect(first.body.error).toMatchObject({ code: 'INVALID_OTP', attempts_remaining: 2 });
    for (let i = 0; i < 5; i++) {
      const replay = await post('/v1/otp/verify', {
        key,
        body: { otp_id: otpId, code: wrong },
        idempotencyKey: 'wrong',
      });
      expect(replay.text).toBe(first.text);
    }
    const status = await h.call('GET', `/v1/otp/${otpId}`, { key });
    expect(status.body.data).toMatchObject({ attempts: 1, attempts_remaining: 2, status: 'pending' });
    const right = await post('/v1/otp/verify', { key, body: { otp_id: otpId, code } });
    expect(right.body.data.verified).toBe(true);
  });

  it('refuses the same key with another code with 422', async () => {
    const { key } = await h.tenant();
    const sent = await post('/v1/otp/send', { key, body: { phone: '+9779841500022' } });
    await post('/v1/otp/verify', {
      key,
      body: { otp_id: sent.body.data.otp_id, code: '999999' },
      idempotencyKey: 'codes',
    });
    const other = await post('/v1/otp/verify', {
      key,
      body: { otp_id: sent.body.data.otp_id, code: '123456' },
      idempotencyKey: 'codes',
    });
    expect(other.status).toBe(422);
    expect(other.body.error.code).toBe('IDEMPOTENCY_KEY_REUSED');
    const status = await h.call('GET', `/v1/otp/${sent.body.data.otp_id}`, { key });
    expect(status.body.data.attempts).toBe(1);
  });

  it('shares nothing between send and verify under one key value', async () => {
    const { key } = await h.tenant();
    const sent = await post('/v1/otp/send', {
      key,
      body: { phone: '+9779841500023' },
      idempotencyKey: 'one-key',
    });
    const verify = await post('/v1/otp/verify', {
      key,
      body: { otp_id: sent.body.data.otp_id, code: '123456' },
      idempotencyKey: 'one-key',
    });
    // One key names one request: a different request under it is a reuse.
    expect(verify.status).toBe(422);
  });
});

describe('Idempotency-Key on the admin API', () => {
  async function adminPost(url: string, body: unknown, idempotencyKey: string) {
    const res = await h.server.inject({
      method: 'POST',
      url,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'idempotency-key': idempotencyKey },
      payload: body as object,
    });
    return { status: res.statusCode, headers: res.headers, text: res.body, body: res.json() };
  }

  it('creates one account for a retried POST /admin/v1/accounts', async () => {
    const accounts = await count('accounts');
    const first = await adminPost('/admin/v1/accounts', { name: 'Retried' }, 'acc-1');
    const replay = await adminPost('/admin/v1/accounts', { name: 'Retried' }, 'acc-1');
    expect(first.status).toBe(201);
    expect(replay.text).toBe(first.text);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(await count('accounts')).toBe(accounts + 1);
    const reused = await adminPost('/admin/v1/accounts', { name: 'Other' }, 'acc-1');
    expect(reused.status).toBe(422);
    expect(await count('accounts')).toBe(accounts + 1);
  });

  it('does not collide with an API key scope of the same key value', async () => {
    const { key } = await h.tenant();
    expect(
      (await post('/v1/otp/send', { key, body: { phone: '+9779841500030' }, idempotencyKey: 'cross' }))
        .status,
    ).toBe(201);
    expect((await adminPost('/admin/v1/accounts', { name: 'Cross' }, 'cross')).status).toBe(201);
  });

  it('creates one key for a retried key creation, and keeps no secret at rest', async () => {
    const { app } = await h.tenant();
    const first = await adminPost(`/admin/v1/apps/${app.id}/keys`, undefined, 'key-1');
    const replay = await adminPost(`/admin/v1/apps/${app.id}/keys`, undefined, 'key-1');
    expect(first.status).toBe(201);
    expect(replay.text).toBe(first.text);
    const keys = await h.admin('GET', `/admin/v1/apps/${app.id}/keys`);
    expect(keys.body.data.items).toHaveLength(2);
    const secret: string = first.body.data.secret;
    const stored = await h.ctx.store.db.selectFrom('idempotency_keys').selectAll().execute();
    expect(stored.some((row) => JSON.stringify(row).includes(secret.slice(10, 30)))).toBe(false);
  });
});
