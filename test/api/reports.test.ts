import type { Insertable } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { newId } from '../../src/core/ids.js';
import type { MessageTable, OtpTable } from '../../src/store/schema.js';
import type { ChargeTable } from '../../src/store/schema-wallet.js';
import { ADMIN_TOKEN, codeFromInbox, createHarness, type Harness } from '../harness.js';

/**
 * Usage reports against a direct count of the rows: a few hundred OTPs go
 * through the API (sent, verified, resent, delivered by the inbox, charged),
 * a few thousand more are written straight into the tables with every
 * status, channel and country, over ten days and two apps.
 */
let h: Harness;
let key: string;
let otherKey: string;
let appId: string;

const DAY = 86_400_000;
const START = Date.UTC(2026, 2, 1);

beforeAll(async () => {
  h = await createHarness({ clock: new ManualClock(START + 3_600_000) });
  const account = await h.admin('POST', '/admin/v1/accounts', { name: 'Reports', currency: 'RPT' });
  const accountId = account.body.data.id as string;
  const app = await h.admin('POST', '/admin/v1/apps', {
    account_id: accountId,
    name: 'Busy',
    environment: 'live',
    resend_cooldown: 0,
    limits: { key_minute: { max: 100_000, window: 60 }, phone_hour: { max: 100, window: 3600 } },
  });
  appId = app.body.data.id;
  key = (await h.admin('POST', `/admin/v1/apps/${appId}/keys`)).body.data.secret;
  const other = await h.admin('POST', '/admin/v1/apps', {
    account_id: accountId,
    name: 'Other',
    environment: 'live',
  });
  const otherAppId = other.body.data.id as string;
  otherKey = (await h.admin('POST', `/admin/v1/apps/${otherAppId}/keys`)).body.data.secret;
  await h.server.inject({
    method: 'PUT',
    url: '/admin/v1/prices',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    payload: { currency: 'RPT', channel: 'sms', country: '*', price: 1_000 },
  });
  await h.admin('POST', `/admin/v1/accounts/${accountId}/topups`, { amount: 10_000_000, reference: 'r' });

  // Through the API, on the first day: sends, a third verified, some resent.
  for (let i = 0; i < 150; i++) {
    const phone = `+9779846${String(i).padStart(6, '0')}`;
    const sent = await h.call('POST', '/v1/otp/send', { key, body: { phone } });
    expect(sent.status).toBe(201);
    if (i % 5 === 0) await h.call('POST', '/v1/otp/resend', { key, body: { otp_id: sent.body.data.otp_id } });
    if (i % 3 === 0) {
      const code = await codeFromInbox(h, phone);
      expect((await h.call('POST', '/v1/otp/verify', { key, body: { phone, code } })).status).toBe(200);
    }
  }
  await h.deliver();
  for (let i = 0; i < 20; i++) {
    await h.call('POST', '/v1/otp/send', {
      key: otherKey,
      body: { phone: `+9779847${String(i).padStart(6, '0')}` },
    });
  }
  await h.deliver();

  // Straight into the tables: 3000 OTPs over the next ten days, with messages and charges.
  const statuses = ['pending', 'verified', 'verified', 'expired', 'failed', 'canceled', 'max_attempts'];
  const channels = ['sms', 'sms', 'whatsapp', 'voice'];
  const countries = ['NP', 'NP', 'IN', 'US', null];
  const messageStatuses = ['queued', 'sent', 'delivered', 'delivered', 'failed', 'unknown'];
  const chargeStates = ['held', 'captured', 'captured', 'released', 'refunded'];
  let seed = 42;
  const pick = <T>(from: T[]): T => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return from[seed % from.length]!;
  };
  const otps: Insertable<OtpTable>[] = [];
  const messages: Insertable<MessageTable>[] = [];
  const charges: Insertable<ChargeTable>[] = [];
  for (let i = 0; i < 3000; i++) {
    const createdAt = START + DAY + Math.floor((i / 3000) * 10 * DAY) + (i % 7) * 1000;
    const id = newId('otp', createdAt);
    const channel = pick(channels);
    const country = pick(countries);
    otps.push({
      id,
      account_id: 'acc_bulk',
      app_id: i % 10 === 9 ? otherAppId : appId,
      environment: 'live',
      phone: `+1555${String(i).padStart(7, '0')}`,
      country,
      channel,
      status: pick(statuses),
      code_type: 'numeric',
      code_length: 6,
      code_hmac: 'x',
      code_ciphertext: null,
      message: 'Your code is {code}',
      sender_id: null,
      locale: null,
      attempts: 0,
      max_attempts: 3,
      resend_cooldown: 60,
      send_count: 1,
      last_sent_at: createdAt,
      expires_at: createdAt + 300_000,
      reference: null,
      metadata: null,
      ip: null,
      created_at: createdAt,
      updated_at: createdAt,
      verified_at: null,
      ended_at: null,
    });
    // 1–3 messages; a later one may fall on the next day, on another channel.
    const count = 1 + (i % 3);
    for (let m = 0; m < count; m++) {
      const at = createdAt + m * 40_000_000;
      const messageId = newId('msg', at);
      const messageChannel = m === 0 ? channel : pick(channels);
      messages.push({
        id: messageId,
        account_id: 'acc_bulk',
        app_id: otps[i]!.app_id,
        otp_id: id,
        environment: 'live',
        channel: messageChannel,
        phone: otps[i]!.phone,
        sender_id: null,
        provider: 'bulk',
        provider_message_id: null,
        status: pick(messageStatuses),
        error: null,
        tries: 1,
        next_try_at: at,
        text_ciphertext: null,
        created_at: at,
        updated_at: at,
        sent_at: null,
        kind: 'otp',
        country,
        locale: null,
        step: m,
        provider_index: 0,
        provider_tries: 0,
        segments: null,
        submitted_at: null,
        delivered_at: null,
        failed_at: null,
        fallback_at: null,
      });
      if (m !== 1) {
        charges.push({
          message_id: messageId,
          account_id: 'acc_bulk',
          app_id: otps[i]!.app_id,
          channel: messageChannel,
          country,
          units: 1,
          unit_price: 700 + (i % 5) * 100,
          amount: 700 + (i % 5) * 100,
          state: pick(chargeStates),
          created_at: at,
          settled_at: null,
        });
      }
    }
  }
  const db = h.ctx.store.db;
  for (let i = 0; i < otps.length; i += 200)
    await db
      .insertInto('otps')
      .values(otps.slice(i, i + 200))
      .execute();
  for (let i = 0; i < messages.length; i += 200) {
    await db
      .insertInto('messages')
      .values(messages.slice(i, i + 200))
      .execute();
  }
  for (let i = 0; i < charges.length; i += 200) {
    await db
      .insertInto('charges')
      .values(charges.slice(i, i + 200))
      .execute();
  }
}, 120_000);

type Dimension = 'day' | 'country' | 'channel';
interface Figures {
  sent: number;
  delivered: number;
  failed: number;
  verified: number;
  messages: number;
  cost: number;
  held: number;
}

/** The report, computed from the rows themselves (read without any aggregate). */
async function expected(from: number, to: number, by: Dimension) {
  const db = h.ctx.store.db;
  const otps = await db
    .selectFrom('otps')
    .select(['id', 'created_at', 'status', 'channel', 'country'])
    .where('app_id', '=', appId)
    .execute();
  const messages = await db
    .selectFrom('messages')
    .select(['otp_id', 'status', 'created_at', 'channel', 'country'])
    .where('app_id', '=', appId)
    .execute();
  const charges = await db
    .selectFrom('charges')
    .select(['state', 'amount', 'created_at', 'channel', 'country'])
    .where('app_id', '=', appId)
    .execute();
  const keyOf = (r: { created_at: number; channel: string; country: string | null }) =>
    by === 'day'
      ? new Date(Number(r.created_at)).toISOString().slice(0, 10)
      : by === 'country'
        ? r.country
        : r.channel;
  const inRange = (r: { created_at: number }) => Number(r.created_at) >= from && Number(r.created_at) < to;
  const deliveredOtps = new Set(messages.filter((m) => m.status === 'delivered').map((m) => m.otp_id));
  const groups = new Map<string | null, Figures>();
  const group = (k: string | null) => {
    if (!groups.has(k))
      groups.set(k, { sent: 0, delivered: 0, failed: 0, verified: 0, messages: 0, cost: 0, held: 0 });
    return groups.get(k)!;
  };
  for (const o of otps.filter(inRange)) {
    const g = group(keyOf(o));
    g.sent++;
    if (deliveredOtps.has(o.id)) g.delivered++;
    if (o.status === 'failed') g.failed++;
    if (o.status === 'verified') g.verified++;
  }
  for (const m of messages.filter(inRange)) group(keyOf(m)).messages++;
  for (const c of charges.filter(inRange)) {
    if (c.state === 'captured') group(keyOf(c)).cost += Number(c.amount);
    if (c.state === 'held') group(keyOf(c)).held += Number(c.amount);
  }
  return groups;
}

describe('usage reports', () => {
  for (const by of ['day', 'country', 'channel'] as const) {
    it(`match a direct count of the rows, grouped by ${by}`, async () => {
      for (const [from, to] of [
        [START, START + 12 * DAY],
        [START + 2 * DAY + 3_600_000, START + 7 * DAY],
      ] as const) {
        const res = await h.call(
          'GET',
          `/v1/reports/usage?from=${new Date(from).toISOString()}&to=${new Date(to).toISOString()}&group_by=${by}`,
          { key },
        );
        expect(res.status).toBe(200);
        const report = res.body.data;
        expect(report).toMatchObject({ app_id: appId, group_by: by, currency: 'RPT' });
        const want = await expected(from, to, by);
        expect(report.items.map((i: { key: string | null }) => i.key).sort()).toEqual(
          [...want.keys()].sort(),
        );
        const totals = { sent: 0, delivered: 0, failed: 0, verified: 0, messages: 0, cost: 0, held: 0 };
        for (const item of report.items) {
          const w = want.get(item.key)!;
          expect(item, `${by} ${item.key}`).toEqual({
            key: item.key,
            ...w,
            conversion_rate: w.sent === 0 ? null : Math.round((w.verified / w.sent) * 10_000) / 10_000,
          });
          for (const name of Object.keys(totals) as (keyof typeof totals)[]) totals[name] += w[name];
        }
        expect(report.totals).toEqual({
          ...totals,
          conversion_rate: Math.round((totals.verified / totals.sent) * 10_000) / 10_000,
        });
        expect(totals.sent).toBeGreaterThan(500);
        expect(totals.verified).toBeGreaterThan(50);
      }
    });
  }

  it('counts what went through the API: sends, verifications, resends and their cost', async () => {
    const day = new Date(START).toISOString().slice(0, 10);
    const res = await h.call('GET', `/v1/reports/usage?from=${day}T00:00:00Z&to=${day}T02:00:00Z`, { key });
    expect(res.body.data.totals).toEqual({
      sent: 150,
      delivered: 150,
      failed: 0,
      verified: 50,
      conversion_rate: 0.3333,
      messages: 180,
      cost: 180_000,
      held: 0,
    });
    expect(res.body.data.items).toEqual([{ key: day, ...res.body.data.totals }]);
    // The other app of the same account sees only its own.
    const other = await h.call('GET', `/v1/reports/usage?from=${day}T00:00:00Z&to=${day}T02:00:00Z`, {
      key: otherKey,
    });
    expect(other.body.data.totals).toMatchObject({ sent: 20, messages: 20, verified: 0, cost: 20_000 });
  });

  it('defaults to the last 30 days by day, and answers an empty period with zeros', async () => {
    const res = await h.call('GET', '/v1/reports/usage', { key });
    expect(res.status).toBe(200);
    expect(res.body.data.group_by).toBe('day');
    expect(Date.parse(res.body.data.to) - Date.parse(res.body.data.from)).toBe(30 * DAY);
    const empty = await h.call('GET', '/v1/reports/usage?from=2020-01-01T00:00:00Z&to=2020-01-02T00:00:00Z', {
      key,
    });
    expect(empty.body.data).toMatchObject({
      items: [],
      totals: { sent: 0, verified: 0, conversion_rate: null, cost: 0 },
    });
  });

  it('refuses bad periods and dimensions', async () => {
    for (const [query, field] of [
      ['from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z', 'from'],
      ['from=2025-01-01T00:00:00Z&to=2026-03-01T00:00:00Z', 'to'],
      ['from=yesterday', 'from'],
      ['group_by=hour', undefined],
      ['app_id=app_x', undefined],
    ] as const) {
      const res = await h.call('GET', `/v1/reports/usage?${query}`, { key });
      expect([res.status, res.body.error.code], query).toEqual([400, 'INVALID_REQUEST']);
      if (field) expect(res.body.error.field).toBe(field);
    }
    expect((await h.call('GET', '/v1/reports/usage')).status).toBe(401);
  });
});
