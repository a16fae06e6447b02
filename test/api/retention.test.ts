import type { Insertable } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Context } from '../../src/context.js';
import { ManualClock } from '../../src/core/clock.js';
import { type IdPrefix, newId } from '../../src/core/ids.js';
import { sweepExpiredOtps } from '../../src/otp/expiry.js';
import { purgeOldRows } from '../../src/retention/purge.js';
import { openStore } from '../../src/store/db.js';
import type { ActivityTable, MessageTable, OtpTable } from '../../src/store/schema.js';
import type { ChargeTable } from '../../src/store/schema-wallet.js';
import type { WebhookDeliveryTable } from '../../src/store/schema-webhooks.js';
import { ADMIN_TOKEN, backend, codeFromInbox, createHarness, type Harness } from '../harness.js';
import { approvedTemplate } from '../support/templates.js';

/**
 * The retention purge against a direct count of the rows: OTPs, messages,
 * template SMS, charges, webhook deliveries and log rows over twenty days,
 * some through the API and most written straight into the tables; then,
 * ninety days later, three purgers at once (two on one store, one on a
 * second store over the same database) delete what is older than ten days.
 */
let h: Harness;
let key: string;
let appId: string;
let accountId: string;

const DAY = 86_400_000;
const START = Date.UTC(2026, 0, 1);
const RETENTION = 90 * DAY;
/** Purged: what ended before this (now − retention). */
const BEFORE = START + 10 * DAY;
const BATCH = 50;

type Dimension = 'day' | 'country' | 'channel';
type RowOf = { created_at: number; channel: string; country: string | null };
interface Snapshot {
  otps: {
    id: string;
    app_id: string;
    status: string;
    expires_at: number;
    created_at: number;
    channel: string;
    country: string | null;
  }[];
  messages: {
    id: string;
    otp_id: string | null;
    kind: string;
    status: string;
    created_at: number;
    channel: string;
    country: string | null;
    app_id: string;
  }[];
  held: Set<string>;
}

let before: Snapshot;
/** The OTP and message ids that the purge must delete, worked out from the rows. */
let purgeableOtps: Set<string>;
let purgeableMessages: Set<string>;
const reportsBefore = new Map<string, unknown>();
const batches: { step: string; picked: number; deleted: number }[] = [];
let purgedRows = 0;
let counts: Record<string, number>;

const RANGES: [number, number][] = [
  [START, START + 21 * DAY],
  [START + 3 * DAY, START + 15 * DAY],
  [START + 9 * DAY, START + 11 * DAY],
];

async function report(from: number, to: number, by: Dimension) {
  const res = await h.call(
    'GET',
    `/v1/reports/usage?from=${new Date(from).toISOString()}&to=${new Date(to).toISOString()}&group_by=${by}`,
    { key },
  );
  expect(res.status).toBe(200);
  return res.body.data;
}

async function snapshot(): Promise<Snapshot> {
  const db = h.ctx.store.db;
  const otps = await db
    .selectFrom('otps')
    .select(['id', 'app_id', 'status', 'expires_at', 'created_at', 'channel', 'country'])
    .execute();
  const messages = await db
    .selectFrom('messages')
    .select(['id', 'otp_id', 'kind', 'status', 'created_at', 'channel', 'country', 'app_id'])
    .execute();
  const held = await db.selectFrom('charges').select('message_id').where('state', '=', 'held').execute();
  return { otps, messages, held: new Set(held.map((c) => c.message_id)) };
}

async function tableCounts(): Promise<Record<string, number>> {
  const db = h.ctx.store.db;
  const out: Record<string, number> = {};
  for (const table of [
    'otps',
    'messages',
    'otp_attempts',
    'charges',
    'ledger_entries',
    'activity_log',
    'inbox_messages',
    'webhook_events',
    'webhook_deliveries',
    'webhook_attempts',
  ] as const) {
    const row = await db
      .selectFrom(table)
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    out[table] = Number(row.n);
  }
  return out;
}

let seed = 7;
const pick = <T>(from: T[]): T => {
  seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
  return from[seed % from.length]!;
};

function otpRow(
  id: string,
  createdAt: number,
  status: string,
  channel: string,
  country: string | null,
  i: number,
): Insertable<OtpTable> {
  return {
    id,
    account_id: accountId,
    app_id: appId,
    environment: 'live',
    phone: `+1555${String(i).padStart(7, '0')}`,
    country,
    channel,
    status,
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
    // Some OTPs live a whole day: those created the day before the cutoff are not purged yet.
    expires_at: createdAt + (i % 4 === 0 ? DAY : 300_000),
    reference: null,
    metadata: null,
    ip: null,
    created_at: createdAt,
    updated_at: createdAt,
    verified_at: null,
    ended_at: null,
  };
}

function messageRow(
  at: number,
  otpId: string | null,
  status: string,
  channel: string,
  country: string | null,
  step: number,
): Insertable<MessageTable> {
  return {
    id: newId('msg', at),
    account_id: accountId,
    app_id: appId,
    otp_id: otpId,
    environment: 'live',
    channel,
    phone: '+15550000000',
    sender_id: null,
    provider: 'bulk',
    provider_message_id: null,
    status,
    error: null,
    tries: 1,
    next_try_at: at,
    text_ciphertext: null,
    created_at: at,
    updated_at: at,
    sent_at: null,
    kind: otpId ? 'otp' : 'sms',
    country,
    locale: null,
    step,
    provider_index: 0,
    provider_tries: 0,
    segments: 1 + (step % 2),
    submitted_at: null,
    delivered_at: null,
    failed_at: null,
    fallback_at: null,
  };
}

async function insertAll<T>(table: string, rows: T[]) {
  const db = h.ctx.store.db as unknown as import('kysely').Kysely<Record<string, T>>;
  for (let i = 0; i < rows.length; i += 200)
    await db
      .insertInto(table)
      .values(rows.slice(i, i + 200) as never)
      .execute();
}

beforeAll(async () => {
  h = await createHarness({ clock: new ManualClock(START + 3_600_000) });
  const account = await h.admin('POST', '/admin/v1/accounts', { name: 'Retention', currency: 'RET' });
  accountId = account.body.data.id;
  const app = await h.admin('POST', '/admin/v1/apps', {
    account_id: accountId,
    name: 'Busy',
    environment: 'live',
    resend_cooldown: 0,
    limits: { key_minute: { max: 100_000, window: 60 }, phone_hour: { max: 100, window: 3600 } },
  });
  appId = app.body.data.id;
  key = (await h.admin('POST', `/admin/v1/apps/${appId}/keys`)).body.data.secret;
  await h.server.inject({
    method: 'PUT',
    url: '/admin/v1/prices',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    payload: { currency: 'RET', channel: 'sms', country: '*', price: 1_000 },
  });
  await h.admin('POST', `/admin/v1/accounts/${accountId}/topups`, { amount: 10_000_000, reference: 'r' });
  // Deliveries to this endpoint stay pending (no dispatcher runs): they and their events stay.
  await h.admin('POST', `/admin/v1/apps/${appId}/webhooks`, { url: 'http://127.0.0.1:9/hook' });

  // Through the API on the first day: sends (a third verified, the rest expire), resends, template SMS.
  for (let i = 0; i < 30; i++) {
    const phone = `+9779846${String(i).padStart(6, '0')}`;
    const sent = await h.call('POST', '/v1/otp/send', { key, body: { phone } });
    expect(sent.status).toBe(201);
    if (i % 5 === 0) await h.call('POST', '/v1/otp/resend', { key, body: { otp_id: sent.body.data.otp_id } });
    if (i % 3 === 0) {
      const code = await codeFromInbox(h, phone);
      expect((await h.call('POST', '/v1/otp/verify', { key, body: { phone, code } })).status).toBe(200);
    }
  }
  const templateId = await approvedTemplate(h, key);
  for (let i = 0; i < 5; i++) {
    const res = await h.call('POST', '/v1/sms/send', {
      key,
      body: {
        phone: `+9779847${String(i).padStart(6, '0')}`,
        template_id: templateId,
        variables: { order_id: `A${i}`, delivery_date: 'Monday' },
      },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
  }
  await h.deliver();

  // Straight into the tables: 1500 OTPs over twenty days with 1–3 messages each, 300 template SMS, charges.
  const statuses = ['pending', 'verified', 'verified', 'expired', 'failed', 'canceled', 'max_attempts'];
  const channels = ['sms', 'sms', 'whatsapp', 'voice'];
  const countries = ['NP', 'NP', 'IN', 'US', null];
  const messageStatuses = [
    'sent',
    'delivered',
    'delivered',
    'delivered',
    'failed',
    'unknown',
    'queued',
    'sending',
  ];
  const chargeStates = ['held', 'captured', 'captured', 'captured', 'released', 'refunded'];
  const otps: Insertable<OtpTable>[] = [];
  const messages: Insertable<MessageTable>[] = [];
  const charges: Insertable<ChargeTable>[] = [];
  const charge = (m: Insertable<MessageTable>, i: number) =>
    charges.push({
      message_id: m.id,
      account_id: accountId,
      app_id: appId,
      channel: m.channel,
      country: m.country ?? null,
      units: 1,
      unit_price: 700,
      amount: 700 + (i % 5) * 100,
      state: pick(chargeStates),
      created_at: m.created_at,
      settled_at: null,
    });
  for (let i = 0; i < 1500; i++) {
    const createdAt = START + DAY + Math.floor((i / 1500) * 20 * DAY) + (i % 7) * 1000;
    const id = newId('otp', createdAt);
    const channel = pick(channels);
    const country = pick(countries);
    otps.push(otpRow(id, createdAt, pick(statuses), channel, country, i));
    // A later message may fall on the next day, on another channel.
    for (let m = 0; m < 1 + (i % 3); m++) {
      const row = messageRow(
        createdAt + m * 40_000_000,
        id,
        pick(messageStatuses),
        m === 0 ? channel : pick(channels),
        country,
        m,
      );
      messages.push(row);
      if (m !== 1) charge(row, i);
    }
  }
  for (let i = 0; i < 300; i++) {
    const row = messageRow(
      START + DAY + Math.floor((i / 300) * 20 * DAY),
      null,
      pick(messageStatuses),
      'sms',
      pick(countries),
      i,
    );
    messages.push(row);
    charge(row, i);
  }
  await insertAll('otps', otps);
  await insertAll('messages', messages);
  await insertAll('charges', charges);

  // Logs and webhook deliveries of every state over the same twenty days.
  const at = (i: number, n: number) => START + DAY + Math.floor((i / n) * 20 * DAY);
  const id = (prefix: IdPrefix, ms: number) => newId(prefix, ms);
  const activity: Insertable<ActivityTable>[] = [];
  for (let i = 0; i < 400; i++) {
    const ms = at(i, 400);
    activity.push({
      id: id('act', ms),
      account_id: accountId,
      app_id: appId,
      type: 'otp.sent',
      otp_id: null,
      key_id: null,
      detail: '{}',
      created_at: ms,
    });
  }
  await insertAll('activity_log', activity);
  const endpoint = await h.ctx.store.db
    .selectFrom('webhook_endpoints')
    .select('id')
    .executeTakeFirstOrThrow();
  const events: {
    id: string;
    account_id: string;
    app_id: string;
    type: string;
    payload: string;
    created_at: number;
  }[] = [];
  const deliveries: Insertable<WebhookDeliveryTable>[] = [];
  const attempts: {
    id: string;
    delivery_id: string;
    endpoint_id: string;
    attempt: number;
    status_code: number | null;
    latency_ms: number;
    error: string | null;
    created_at: number;
  }[] = [];
  for (let i = 0; i < 200; i++) {
    const ms = at(i, 200);
    const eventId = id('evt', ms);
    events.push({
      id: eventId,
      account_id: accountId,
      app_id: appId,
      type: 'otp.sent',
      payload: '{}',
      created_at: ms,
    });
    const deliveryId = id('whd', ms);
    deliveries.push({
      id: deliveryId,
      event_id: eventId,
      endpoint_id: endpoint.id,
      app_id: appId,
      status: pick(['succeeded', 'succeeded', 'failed', 'canceled', 'pending']),
      attempts: 1,
      tries: 1,
      next_try_at: ms,
      last_status_code: 200,
      last_error: null,
      created_at: ms,
      updated_at: ms,
      succeeded_at: null,
    });
    attempts.push({
      id: id('wha', ms),
      delivery_id: deliveryId,
      endpoint_id: endpoint.id,
      attempt: 1,
      status_code: 200,
      latency_ms: 5,
      error: null,
      created_at: ms,
    });
  }
  await insertAll('webhook_events', events);
  await insertAll('webhook_deliveries', deliveries);
  await insertAll('webhook_attempts', attempts);

  // Ninety days after the tenth day; the sweeper ends the API's unverified OTPs.
  h.clock.advance((BEFORE + RETENTION - h.clock.now()) / 1000);
  await sweepExpiredOtps(h.ctx);
  // One the sweeper has not reached yet: pending is never purged, however old.
  await insertAll('otps', [otpRow(newId('otp', START + DAY), START + DAY, 'pending', 'sms', 'NP', 1)]);

  before = await snapshot();
  const messagesOf = new Map<string, Snapshot['messages']>();
  for (const m of before.messages)
    if (m.otp_id) messagesOf.set(m.otp_id, [...(messagesOf.get(m.otp_id) ?? []), m]);
  const settled = (m: Snapshot['messages'][number]) =>
    !['queued', 'sending'].includes(m.status) && !before.held.has(m.id);
  purgeableOtps = new Set(
    before.otps
      .filter(
        (o) =>
          o.status !== 'pending' &&
          Number(o.expires_at) < BEFORE &&
          (messagesOf.get(o.id) ?? []).every(settled),
      )
      .map((o) => o.id),
  );
  purgeableMessages = new Set(
    before.messages
      .filter((m) => (m.otp_id ? purgeableOtps.has(m.otp_id) : Number(m.created_at) < BEFORE && settled(m)))
      .map((m) => m.id),
  );
  counts = await tableCounts();
  for (const [from, to] of RANGES)
    for (const by of ['day', 'country', 'channel'] as const)
      reportsBefore.set(`${from} ${to} ${by}`, await report(from, to, by));

  // Three purgers at once: two on this store, one on a second store over the same database
  // (on PostgreSQL: a second SQLite store in this process would block its event loop on the lock).
  const other = backend === 'postgres' ? await openStore({ url: h.databaseUrl }) : h.ctx.store;
  if (other !== h.ctx.store) afterAll(() => other.close());
  const otherCtx: Context = { ...h.ctx, store: other };
  const options = {
    olderThanMs: RETENTION,
    batch: BATCH,
    pauseMs: 1,
    onBatch: (step: string, b: { picked: number; deleted: number }) => batches.push({ step, ...b }),
  };
  const purged = await Promise.all([
    purgeOldRows(h.ctx, options),
    purgeOldRows(h.ctx, options),
    purgeOldRows(otherCtx, options),
  ]);
  purgedRows = purged.reduce((a, b) => a + b, 0);
}, 180_000);

describe('retention purge', () => {
  it('leaves every usage report over whole days as it was, in every dimension', async () => {
    expect(purgeableOtps.size).toBeGreaterThan(300);
    for (const [from, to] of RANGES)
      for (const by of ['day', 'country', 'channel'] as const)
        expect(await report(from, to, by), `${by} ${new Date(from).toISOString()}`).toEqual(
          reportsBefore.get(`${from} ${to} ${by}`),
        );
  });

  it('deletes exactly the ended, old OTPs with their messages, and the settled old template SMS', async () => {
    const after = await snapshot();
    const left = new Set(after.otps.map((o) => o.id));
    for (const o of before.otps) expect(left.has(o.id), `${o.id} ${o.status}`).toBe(!purgeableOtps.has(o.id));
    const leftMessages = new Set(after.messages.map((m) => m.id));
    for (const m of before.messages)
      expect(leftMessages.has(m.id), `${m.id} ${m.status}`).toBe(!purgeableMessages.has(m.id));
    // What stayed: pending, young, still in the outbox or holding a charge.
    const kept = before.otps.filter((o) => !purgeableOtps.has(o.id));
    expect(kept.some((o) => o.status === 'pending' && Number(o.created_at) < BEFORE)).toBe(true);
    expect(kept.some((o) => o.status === 'verified' && Number(o.created_at) < BEFORE)).toBe(true);
    expect(kept.some((o) => Number(o.created_at) >= BEFORE)).toBe(true);
    const attempts = await h.ctx.store.db.selectFrom('otp_attempts').select('otp_id').execute();
    for (const a of attempts) expect(purgeableOtps.has(a.otp_id)).toBe(false);
    expect(counts.otp_attempts).toBeGreaterThan(attempts.length);
  });

  it('counts each purged row once although three purgers ran at once, in batches of at most the batch size', async () => {
    const now = await tableCounts();
    const gone = Object.keys(counts).reduce((n, t) => n + counts[t]! - now[t]!, 0);
    expect(purgedRows).toBe(gone);
    const rollups = await h.ctx.store.db
      .selectFrom('report_rollups')
      .select((eb) => [eb.fn.sum<number>('otps').as('otps'), eb.fn.sum<number>('messages').as('messages')])
      .executeTakeFirstOrThrow();
    expect(Number(rollups.otps)).toBe(purgeableOtps.size);
    expect(Number(rollups.messages)).toBe(purgeableMessages.size);
    const otpBatches = batches.filter((b) => b.step === 'otps' && b.picked > 0);
    expect(otpBatches.length).toBeGreaterThanOrEqual(Math.ceil(purgeableOtps.size / BATCH));
    for (const b of batches) expect(b.picked).toBeLessThanOrEqual(BATCH);
    expect(otpBatches.reduce((n, b) => n + b.picked, 0)).toBe(purgeableOtps.size);
    // Once done, another run finds nothing.
    expect(await purgeOldRows(h.ctx, { olderThanMs: RETENTION })).toBe(0);
  });

  it('never touches the ledger or the charges: the balance is still the sum of the ledger', async () => {
    const now = await tableCounts();
    expect(now.ledger_entries).toBe(counts.ledger_entries);
    expect(now.charges).toBe(counts.charges);
    const db = h.ctx.store.db;
    const sum = await db
      .selectFrom('ledger_entries')
      .select((eb) => eb.fn.sum<number>('amount').as('sum'))
      .where('account_id', '=', accountId)
      .executeTakeFirstOrThrow();
    const account = await db
      .selectFrom('accounts')
      .select('balance')
      .where('id', '=', accountId)
      .executeTakeFirstOrThrow();
    expect(Number(sum.sum)).toBe(Number(account.balance));
    expect(Number(account.balance)).toBeLessThan(10_000_000);
  });

  it('purges old log rows and finished webhook deliveries, keeping pending ones and their events', async () => {
    const db = h.ctx.store.db;
    const activity = await db.selectFrom('activity_log').select('created_at').execute();
    expect(activity.length).toBeGreaterThan(0);
    for (const a of activity) expect(Number(a.created_at)).toBeGreaterThanOrEqual(BEFORE);
    const deliveries = await db
      .selectFrom('webhook_deliveries')
      .select(['status', 'created_at', 'event_id'])
      .execute();
    expect(deliveries.some((d) => d.status === 'pending' && Number(d.created_at) < BEFORE)).toBe(true);
    for (const d of deliveries) expect(d.status === 'pending' || Number(d.created_at) >= BEFORE).toBe(true);
    const events = new Set((await db.selectFrom('webhook_events').select('id').execute()).map((e) => e.id));
    for (const d of deliveries) expect(events.has(d.event_id)).toBe(true);
    const orphans = await db
      .selectFrom('webhook_attempts')
      .leftJoin('webhook_deliveries', 'webhook_deliveries.id', 'webhook_attempts.delivery_id')
      .select('webhook_attempts.id')
      .where('webhook_deliveries.id', 'is', null)
      .execute();
    expect(orphans).toEqual([]);
    const inbox = await db.selectFrom('inbox_messages').select('created_at').execute();
    for (const m of inbox) expect(Number(m.created_at)).toBeGreaterThanOrEqual(BEFORE);
    expect(counts.inbox_messages).toBeGreaterThan(0);
  });

  it('counts purged rows of a day in a period that holds its 00:00 UTC, raw rows by their time', async () => {
    const from = START + 5 * DAY + DAY / 2;
    const to = START + 8 * DAY + DAY / 2;
    const inRange = (r: RowOf, purged: boolean) => {
      const t = purged ? Math.floor(Number(r.created_at) / DAY) * DAY : Number(r.created_at);
      return t >= from && t < to;
    };
    const mine = (r: { app_id: string }) => r.app_id === appId;
    const sent = before.otps.filter(mine).filter((o) => inRange(o, purgeableOtps.has(o.id))).length;
    const verified = before.otps
      .filter(mine)
      .filter((o) => o.status === 'verified' && inRange(o, purgeableOtps.has(o.id))).length;
    const messages = before.messages
      .filter(mine)
      .filter((m) => inRange(m, purgeableMessages.has(m.id))).length;
    const r = await report(from, to, 'channel');
    expect(r.totals).toMatchObject({ sent, verified, messages });
    // Not what the raw rows gave: the purged half days at either end moved.
    const raw = before.otps.filter(mine).filter((o) => inRange(o, false)).length;
    expect(sent).not.toBe(raw);
  });
});
