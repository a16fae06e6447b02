import { beforeAll, describe, expect, it } from 'vitest';
import { sweepExpiredOtps } from '../../src/otp/expiry.js';
import { codeFromInbox, createHarness, type Harness } from '../harness.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});

let phones = 0;
/** A phone number no other test of this file uses (the inbox is shared by every tenant). */
const nextPhone = () => `+9779844${String(++phones).padStart(6, '0')}`;

interface Entry {
  id: string;
  type: string;
  app_id: string | null;
  otp_id: string | null;
  key_id: string | null;
  detail: Record<string, unknown>;
  created_at: string;
}

async function send(key: string, body: Record<string, unknown>) {
  const res = await h.call('POST', '/v1/otp/send', { key, body });
  expect(res.status).toBe(201);
  return res.body.data as { otp_id: string; phone: string; created_at: string };
}

const verify = (key: string, body: Record<string, unknown>) =>
  h.call('POST', '/v1/otp/verify', { key, body });
const iso = (ms: number) => new Date(ms).toISOString();

/** A tenant with the id of its key, which the log names as the actor. */
async function tenant(policy: Parameters<Harness['tenant']>[0] = {}) {
  const t = await h.tenant(policy);
  const keys = await h.admin('GET', `/admin/v1/apps/${t.app.id}/keys`);
  return { ...t, keyId: keys.body.data.items[0].id as string };
}

async function logs(key: string, query: Record<string, string | number> = {}) {
  const qs = new URLSearchParams(Object.entries(query).map(([k, v]): [string, string] => [k, String(v)]));
  const res = await h.call('GET', `/v1/logs${qs.size ? `?${qs}` : ''}`, { key });
  expect(res.status).toBe(200);
  return res.body.data as { items: Entry[]; next_cursor: string | null };
}

/** The types of an OTP's entries, newest first. */
const typesOf = async (key: string, otpId: string) =>
  (await logs(key, { otp_id: otpId })).items.map((e) => e.type);

describe('GET /v1/logs', () => {
  it('records otp.created with the channel, the country and the key that sent it', async () => {
    const { key, keyId, app } = await tenant();
    const otp = await send(key, { phone: nextPhone() });
    const res = await h.call('GET', `/v1/logs?otp_id=${otp.otp_id}`, { key });
    expect(res.status).toBe(200);
    expect(res.body.success).toBe(true);
    expect(res.body.data).toEqual({
      items: [
        {
          id: expect.stringMatching(/^act_/),
          type: 'otp.created',
          app_id: app.id,
          otp_id: otp.otp_id,
          key_id: keyId,
          detail: { channel: 'sms', country: 'NP' },
          created_at: otp.created_at,
        },
      ],
      next_cursor: null,
    });
  });

  it('records otp.verification_failed with attempts_remaining, then otp.verified', async () => {
    const { key, keyId } = await tenant();
    const otp = await send(key, { phone: nextPhone() });
    h.clock.advance(1);
    await verify(key, { otp_id: otp.otp_id, code: '000000' });
    h.clock.advance(1);
    await verify(key, { otp_id: otp.otp_id, code: '123456' });
    const { items } = await logs(key, { otp_id: otp.otp_id });
    expect(items.map((e) => [e.type, e.detail, e.key_id])).toEqual([
      ['otp.verified', { attempts: 2 }, keyId],
      ['otp.verification_failed', { attempts_remaining: 2 }, keyId],
      ['otp.created', { channel: 'sms', country: 'NP' }, keyId],
    ]);
    expect(items[0]!.created_at).toBe(iso(h.clock.now()));
  });

  it('records otp.max_attempts on the last wrong code, and nothing for refusals after it', async () => {
    const { key } = await tenant();
    const otp = await send(key, { phone: nextPhone() });
    for (let i = 0; i < 5; i++) {
      h.clock.advance(1);
      await verify(key, { otp_id: otp.otp_id, code: '000000' });
    }
    await verify(key, { otp_id: otp.otp_id, code: '123456' });
    const { items } = await logs(key, { otp_id: otp.otp_id });
    expect(items.map((e) => [e.type, e.detail])).toEqual([
      ['otp.max_attempts', { attempts: 3 }],
      ['otp.verification_failed', { attempts_remaining: 1 }],
      ['otp.verification_failed', { attempts_remaining: 2 }],
      ['otp.created', { channel: 'sms', country: 'NP' }],
    ]);
  });

  it('records otp.resent with the channel and the send count', async () => {
    const { key, keyId } = await tenant();
    const otp = await send(key, { phone: nextPhone() });
    h.clock.advance(60);
    await h.call('POST', '/v1/otp/resend', { key, body: { otp_id: otp.otp_id } });
    h.clock.advance(60);
    await h.call('POST', '/v1/otp/resend', { key, body: { otp_id: otp.otp_id, channel: 'whatsapp' } });
    const { items } = await logs(key, { otp_id: otp.otp_id });
    expect(items.map((e) => [e.type, e.detail, e.key_id])).toEqual([
      ['otp.resent', { channel: 'whatsapp', send_count: 3 }, keyId],
      ['otp.resent', { channel: 'sms', send_count: 2 }, keyId],
      ['otp.created', { channel: 'sms', country: 'NP' }, keyId],
    ]);
  });

  it('records otp.canceled once, with the key that canceled it', async () => {
    const { key, keyId } = await tenant();
    const otp = await send(key, { phone: nextPhone() });
    h.clock.advance(1);
    await h.call('POST', `/v1/otp/${otp.otp_id}/cancel`, { key });
    h.clock.advance(1);
    await h.call('POST', `/v1/otp/${otp.otp_id}/cancel`, { key });
    const { items } = await logs(key, { otp_id: otp.otp_id });
    expect(items.map((e) => e.type)).toEqual(['otp.canceled', 'otp.created']);
    expect(items[0]!.key_id).toBe(keyId);
  });

  it('records otp.expired once when the sweeper ends an OTP, with no key', async () => {
    const { key } = await tenant();
    const otp = await send(key, { phone: nextPhone(), expiry: 60 });
    h.clock.advance(60);
    await sweepExpiredOtps(h.ctx);
    await sweepExpiredOtps(h.ctx);
    await verify(key, { otp_id: otp.otp_id, code: '123456' });
    const { items } = await logs(key, { otp_id: otp.otp_id });
    expect(items.map((e) => e.type)).toEqual(['otp.expired', 'otp.created']);
    expect(items[0]).toMatchObject({ key_id: null, detail: {}, created_at: iso(h.clock.now()) });
  });

  it('records otp.expired once when a verify finds the OTP expired before the sweep', async () => {
    const { key } = await tenant();
    const otp = await send(key, { phone: nextPhone(), expiry: 60 });
    h.clock.advance(60);
    await verify(key, { otp_id: otp.otp_id, code: '123456' });
    await verify(key, { otp_id: otp.otp_id, code: '123456' });
    await h.call('POST', `/v1/otp/${otp.otp_id}/cancel`, { key });
    await sweepExpiredOtps(h.ctx);
    expect(await typesOf(key, otp.otp_id)).toEqual(['otp.expired', 'otp.created']);
  });

  it('records otp.expired when a new send to the phone replaces an expired OTP', async () => {
    const { key } = await tenant();
    const old = await send(key, { phone: nextPhone(), expiry: 60 });
    h.clock.advance(60);
    const fresh = await send(key, { phone: old.phone });
    expect(await typesOf(key, old.otp_id)).toEqual(['otp.expired', 'otp.created']);
    expect(await typesOf(key, fresh.otp_id)).toEqual(['otp.created']);
  });

  it('records message.sent and message.delivered for each message the inbox delivered', async () => {
    const { key } = await tenant({ environment: 'live' });
    const otp = await send(key, { phone: nextPhone() });
    h.clock.advance(1);
    await h.deliver();
    const { items } = await logs(key, { otp_id: otp.otp_id });
    expect(items.map((e) => e.type)).toEqual(['message.delivered', 'message.sent', 'otp.created']);
    expect(items[1]!.detail).toMatchObject({
      message_id: expect.stringMatching(/^msg_/),
      provider: 'inbox',
      channel: 'sms',
    });
  });

  it('writes no entry for refused requests', async () => {
    const { key } = await tenant();
    const otp = await send(key, { phone: nextPhone() });
    const before = await logs(key, { limit: 100 });
    const refused = [
      await h.call('POST', '/v1/otp/send', { key, body: { phone: otp.phone } }),
      await h.call('POST', '/v1/otp/resend', { key, body: { otp_id: otp.otp_id } }),
      await verify(key, { otp_id: 'otp_0000000000000000000000', code: '123456' }),
      await verify(key, { phone: nextPhone(), code: '123456' }),
      await h.call('POST', '/v1/otp/send', { key, body: { phone: 'nope' } }),
    ];
    expect(refused.map((r) => r.status)).toEqual([409, 429, 404, 404, 400]);
    expect(await logs(key, { limit: 100 })).toEqual(before);
  });

  it('never holds the code', async () => {
    const { key } = await tenant({ environment: 'live' });
    const phone = nextPhone();
    const otp = await send(key, { phone });
    const code = await codeFromInbox(h, phone);
    h.clock.advance(60);
    await h.call('POST', '/v1/otp/resend', { key, body: { otp_id: otp.otp_id } });
    await h.deliver();
    await verify(key, { otp_id: otp.otp_id, code: code === '000000' ? '111111' : '000000' });
    await verify(key, { otp_id: otp.otp_id, code });
    const res = await h.call('GET', '/v1/logs?limit=100', { key });
    expect(res.body.data.items.length).toBeGreaterThanOrEqual(6);
    expect(JSON.stringify(res.body)).not.toContain(code);
  });

  it('lists the app’s own entries newest first, including key.created', async () => {
    const { key, keyId, app } = await tenant();
    h.clock.advance(1);
    const otp = await send(key, { phone: nextPhone() });
    const { items } = await logs(key);
    expect(items.map((e) => e.type)).toEqual(['otp.created', 'key.created', 'app.created']);
    expect(items[1]).toMatchObject({ key_id: keyId, otp_id: null, app_id: app.id });
    expect(items[0]!.otp_id).toBe(otp.otp_id);
    for (const entry of items) expect(entry.app_id).toBe(app.id);
  });
});

describe('GET /v1/logs filters and pages', () => {
  /** A tenant with two OTPs and their entries, each a second apart. */
  async function history() {
    const t = await tenant();
    h.clock.advance(1);
    const start = h.clock.now();
    const a = await send(t.key, { phone: nextPhone() }); // start
    h.clock.advance(1);
    await verify(t.key, { otp_id: a.otp_id, code: '000000' }); // start + 1
    h.clock.advance(1);
    await verify(t.key, { otp_id: a.otp_id, code: '123456' }); // start + 2
    h.clock.advance(1);
    const b = await send(t.key, { phone: nextPhone() }); // start + 3
    h.clock.advance(1);
    await h.call('POST', `/v1/otp/${b.otp_id}/cancel`, { key: t.key }); // start + 4
    h.clock.advance(1);
    return { ...t, a, b, start };
  }

  it('filters by type', async () => {
    const { key, a, b } = await history();
    const created = await logs(key, { type: 'otp.created' });
    expect(created.items.map((e) => e.otp_id)).toEqual([b.otp_id, a.otp_id]);
    expect((await logs(key, { type: 'otp.verified' })).items.map((e) => e.otp_id)).toEqual([a.otp_id]);
    expect((await logs(key, { type: 'otp.canceled' })).items.map((e) => e.otp_id)).toEqual([b.otp_id]);
    expect((await logs(key, { type: 'otp.nothing' })).items).toEqual([]);
  });

  it('filters by otp_id', async () => {
    const { key, a, b } = await history();
    expect(await typesOf(key, a.otp_id)).toEqual(['otp.verified', 'otp.verification_failed', 'otp.created']);
    expect(await typesOf(key, b.otp_id)).toEqual(['otp.canceled', 'otp.created']);
    expect(await typesOf(key, 'otp_0000000000000000000000')).toEqual([]);
  });

  it('filters by from (inclusive) and to (exclusive)', async () => {
    const { key, start } = await history();
    const types = async (query: Record<string, string>) => (await logs(key, query)).items.map((e) => e.type);
    expect(await types({ from: iso(start + 3000) })).toEqual(['otp.canceled', 'otp.created']);
    expect(await types({ from: iso(start + 1000), to: iso(start + 3000) })).toEqual([
      'otp.verified',
      'otp.verification_failed',
    ]);
    expect(await types({ from: iso(start), to: iso(start + 1000) })).toEqual(['otp.created']);
  });

  it('combines type and otp_id filters', async () => {
    const { key, a, b } = await history();
    const res = await logs(key, { type: 'otp.created', otp_id: b.otp_id });
    expect(res.items.map((e) => e.otp_id)).toEqual([b.otp_id]);
    expect((await logs(key, { type: 'otp.canceled', otp_id: a.otp_id })).items).toEqual([]);
  });

  it('pages with limit and cursor through every entry exactly once', async () => {
    const { key } = await history();
    const all = (await logs(key, { limit: 100 })).items;
    expect(all).toHaveLength(7); // app.created, key.created and five OTP entries
    const seen: Entry[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: { items: Entry[]; next_cursor: string | null } = await logs(key, {
        limit: 3,
        ...(cursor ? { cursor } : {}),
      });
      expect(page.items.length).toBeLessThanOrEqual(3);
      seen.push(...page.items);
      cursor = page.next_cursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual(all);
  });

  it('pages within a filter', async () => {
    const { key, a, b } = await history();
    const first = await logs(key, { type: 'otp.created', limit: 1 });
    expect(first.items.map((e) => e.otp_id)).toEqual([b.otp_id]);
    expect(first.next_cursor).toEqual(expect.any(String));
    const second = await logs(key, { type: 'otp.created', limit: 1, cursor: first.next_cursor! });
    expect(second.items.map((e) => e.otp_id)).toEqual([a.otp_id]);
    expect(second.next_cursor).toBeNull();
  });

  it('defaults to 20 entries a page', async () => {
    const { key } = await tenant({ resend_cooldown: 0 });
    const otp = await send(key, { phone: nextPhone(), expiry: 3600 });
    for (let i = 0; i < 3; i++) await h.call('POST', '/v1/otp/resend', { key, body: { otp_id: otp.otp_id } });
    for (let i = 0; i < 20; i++) await send(key, { phone: nextPhone() });
    const page = await logs(key);
    expect(page.items).toHaveLength(20);
    expect(page.next_cursor).toEqual(expect.any(String));
  });

  it.each([
    ['limit=0', 'limit'],
    ['limit=101', 'limit'],
    ['from=yesterday', 'from'],
    ['to=2026-01-01', 'to'],
    ['app_id=app_x', 'app_id'],
    [`type=${'t'.repeat(65)}`, 'type'],
  ])('refuses ?%s with INVALID_REQUEST on %s', async (query, field) => {
    const { key } = await tenant();
    const res = await h.call('GET', `/v1/logs?${query}`, { key });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'INVALID_REQUEST', field });
  });
});

describe('GET /v1/logs and other tenants', () => {
  it('never shows another tenant’s entries, whatever the filter', async () => {
    const mine = await tenant();
    const theirs = await tenant();
    const otp = await send(theirs.key, { phone: nextPhone(), expiry: 60 });
    h.clock.advance(1);
    await verify(theirs.key, { otp_id: otp.otp_id, code: '000000' });
    h.clock.advance(60);
    await sweepExpiredOtps(h.ctx);
    expect(await typesOf(theirs.key, otp.otp_id)).toEqual([
      'otp.expired',
      'otp.verification_failed',
      'otp.created',
    ]);

    const everything = await logs(mine.key, { limit: 100 });
    expect(everything.items.map((e) => e.type)).toEqual(['key.created', 'app.created']);
    expect(JSON.stringify(everything)).not.toContain(otp.otp_id);
    expect((await logs(mine.key, { otp_id: otp.otp_id })).items).toEqual([]);
    for (const type of ['otp.created', 'otp.verification_failed', 'otp.expired', 'key.created']) {
      const entries = (await logs(mine.key, { type })).items;
      for (const entry of entries) expect(entry.app_id).toBe(mine.app.id);
    }
  });

  it('does not let another tenant page into its entries with a cursor', async () => {
    const mine = await tenant();
    h.clock.advance(1);
    const theirs = await tenant();
    const otp = await send(theirs.key, { phone: nextPhone() });
    h.clock.advance(1);
    const cursor = 'act_zzzzzzzzzzzzzzzzzzzzzz';
    const page = await logs(mine.key, { cursor });
    expect(page.items.map((e) => e.app_id)).toEqual([mine.app.id, mine.app.id]);
    expect(JSON.stringify(page)).not.toContain(otp.otp_id);
  });

  it('refuses a revoked key with 401 INVALID_API_KEY', async () => {
    const { key, keyId } = await tenant();
    await h.admin('DELETE', `/admin/v1/keys/${keyId}`);
    const res = await h.call('GET', '/v1/logs', { key });
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('INVALID_API_KEY');
  });
});
