import { beforeAll, describe, expect, it } from 'vitest';
import type { OutboundMessage, Provider, ProviderResult } from '../../src/delivery/provider.js';
import { ProviderError } from '../../src/delivery/provider.js';
import { recordReceipt } from '../../src/delivery/receipts.js';
import { sweepOnce } from '../../src/wallet/sweeper.js';
import { ADMIN_TOKEN, createHarness, type Harness, parallel, type Response, tally } from '../harness.js';

/**
 * A provider steered by the test: by default it reports every message
 * delivered on the spot; `answer` changes that per message.
 */
class TestProvider implements Provider {
  readonly name = 'test';
  readonly type = 'test';
  readonly channels = ['sms', 'whatsapp', 'voice', 'rcs'] as const;
  readonly receipts = true;
  sends: OutboundMessage[] = [];
  answer: (m: OutboundMessage) => ProviderResult | ProviderError = (m) => ({
    provider_message_id: `t-${m.id}`,
    status: 'delivered',
  });
  async send(message: OutboundMessage): Promise<ProviderResult> {
    this.sends.push(message);
    const answer = this.answer(message);
    if (answer instanceof Error) throw answer;
    return answer;
  }
}

let h: Harness;
const provider = new TestProvider();
beforeAll(async () => {
  h = await createHarness({ provider: () => provider });
});

const delivered = (m: OutboundMessage): ProviderResult => ({
  provider_message_id: `t-${m.id}`,
  status: 'delivered',
});
const sentOnly = (m: OutboundMessage): ProviderResult => ({
  provider_message_id: `t-${m.id}`,
  status: 'sent',
});

let phones = 0;
const nextPhone = () => `+9779845${String(++phones).padStart(6, '0')}`;

const put = async (url: string, body: unknown): Promise<Response> => {
  const res = await h.server.inject({
    method: 'PUT',
    url,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    payload: body as object,
  });
  return { status: res.statusCode, headers: res.headers as Response['headers'], body: res.json() };
};

/**
 * A live account with its own currency (so each test has its own price
 * table), an app and a key, made through the admin API.
 */
let currencies = 0;
async function liveTenant(policy: Record<string, unknown> = {}, environment = 'live') {
  const currency = `W${String.fromCharCode(65 + Math.floor(currencies / 26), 65 + (currencies++ % 26))}`;
  const account = await h.admin('POST', '/admin/v1/accounts', { name: 'Wallet', currency });
  expect(account.status).toBe(201);
  const accountId = account.body.data.id as string;
  const app = await h.admin('POST', '/admin/v1/apps', {
    account_id: accountId,
    name: 'Wallet app',
    environment,
    limits: { phone_hour: { max: 100, window: 3600 }, key_minute: { max: 1000, window: 60 } },
    ...policy,
  });
  expect(app.status).toBe(201);
  const key = await h.admin('POST', `/admin/v1/apps/${app.body.data.id}/keys`);
  return { accountId, currency, appId: app.body.data.id as string, key: key.body.data.secret as string };
}

async function price(currency: string, channel: string, country: string, amount: number) {
  const res = await put('/admin/v1/prices', { currency, channel, country, price: amount });
  expect(res.status).toBe(200);
}

async function topUp(accountId: string, amount: number, reference = `pay-${Math.random()}`) {
  const res = await h.admin('POST', `/admin/v1/accounts/${accountId}/topups`, { amount, reference });
  expect(res.status).toBe(201);
  return res.body.data;
}

const send = (key: string, body: Record<string, unknown> = {}) =>
  h.call('POST', '/v1/otp/send', { key, body: { phone: nextPhone(), ...body } });

async function balanceOf(key: string) {
  const res = await h.call('GET', '/v1/balance', { key });
  expect(res.status).toBe(200);
  return res.body.data as { balance: number; held: number; currency: string; low_balance_threshold: number };
}

async function ledgerOf(accountId: string) {
  return h.ctx.store.db
    .selectFrom('ledger_entries')
    .selectAll()
    .where('account_id', '=', accountId)
    .orderBy('id')
    .execute();
}

/** The invariants of docs/wallet.md, checked from the rows themselves. */
async function expectBooksBalance(accountId: string) {
  const db = h.ctx.store.db;
  const account = await db
    .selectFrom('accounts')
    .select('balance')
    .where('id', '=', accountId)
    .executeTakeFirstOrThrow();
  const entries = await ledgerOf(accountId);
  const charges = await db.selectFrom('charges').selectAll().where('account_id', '=', accountId).execute();
  expect(Number(account.balance)).toBeGreaterThanOrEqual(0);
  expect(entries.reduce((s, e) => s + Number(e.amount), 0)).toBe(Number(account.balance));
  expect(entries.reduce((s, e) => s + Number(e.held_change), 0)).toBe(
    charges.filter((c) => c.state === 'held').reduce((s, c) => s + Number(c.amount), 0),
  );
  for (const charge of charges) {
    const of = entries.filter((e) => e.reference === charge.message_id);
    const types = of.map((e) => e.type).sort();
    const expected = {
      held: ['hold'],
      captured: ['capture', 'hold'],
      released: ['hold', 'release'],
      refunded: ['capture', 'hold', 'refund'],
    }[charge.state];
    expect(types, `${charge.message_id} ${charge.state}`).toEqual(expected);
  }
  return { balance: Number(account.balance), entries, charges };
}

async function messagesOfApp(appId: string) {
  return h.ctx.store.db
    .selectFrom('messages')
    .selectAll()
    .where('app_id', '=', appId)
    .orderBy('id')
    .execute();
}

async function activityOf(accountId: string, type: string) {
  return h.ctx.store.db
    .selectFrom('activity_log')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('type', '=', type)
    .orderBy('id')
    .execute();
}

async function withSettings(settings: Record<string, unknown>, run: () => Promise<void>) {
  const before = (await h.admin('GET', '/admin/v1/wallet/settings')).body.data;
  const changed = await h.admin('PATCH', '/admin/v1/wallet/settings', settings);
  expect(changed.status).toBe(200);
  try {
    await run();
  } finally {
    const { updated_at: _, ...restore } = before;
    await h.admin('PATCH', '/admin/v1/wallet/settings', restore);
  }
}

describe('holds on live sends', () => {
  it('a balance worth exactly 10 OTPs and 100 simultaneous sends: 10 accepted, 90 INSUFFICIENT_BALANCE', async () => {
    provider.answer = delivered;
    const t = await liveTenant();
    await price(t.currency, 'sms', '*', 20_000);
    await topUp(t.accountId, 200_000);

    const results = await parallel(100, () => send(t.key));
    expect(tally(results)).toEqual({ '201': 10, '402 INSUFFICIENT_BALANCE': 90 });
    expect(await balanceOf(t.key)).toMatchObject({ balance: 0, held: 200_000, currency: t.currency });
    // A refused send left nothing behind: no OTP, no message, no hold.
    expect(await messagesOfApp(t.appId)).toHaveLength(10);
    const listed = await h.call('GET', '/v1/otp?limit=100', { key: t.key });
    expect(listed.body.data.items).toHaveLength(10);

    await h.deliver();
    expect(await balanceOf(t.key)).toMatchObject({ balance: 0, held: 0 });
    const { entries, charges } = await expectBooksBalance(t.accountId);
    expect(charges.map((c) => c.state)).toEqual(Array(10).fill('captured'));
    expect(entries.filter((e) => e.type === 'hold')).toHaveLength(10);
    expect(entries.filter((e) => e.type === 'capture')).toHaveLength(10);
  });

  it('refuses a live send with 402 when the balance is short, and charges nothing for it', async () => {
    const t = await liveTenant();
    await price(t.currency, 'sms', '*', 5_000);
    const phone = nextPhone();
    const res = await h.call('POST', '/v1/otp/send', { key: t.key, body: { phone } });
    expect(res.status).toBe(402);
    expect(res.body).toMatchObject({ success: false, error: { code: 'INSUFFICIENT_BALANCE' } });
    expect(await messagesOfApp(t.appId)).toHaveLength(0);
    // The refused send took nothing from the limits either.
    const limits = await h.call('GET', `/v1/rate-limits?phone=${encodeURIComponent(phone)}`, { key: t.key });
    expect(limits.body.data.limits.find((l: { scope: string }) => l.scope === 'phone_hour').remaining).toBe(
      100,
    );
    expect(await ledgerOf(t.accountId)).toEqual([]);
  });

  it('sandbox is free, and so is a live message with no price', async () => {
    const sandbox = await liveTenant({}, 'sandbox');
    await price(sandbox.currency, 'sms', '*', 5_000);
    expect((await send(sandbox.key)).status).toBe(201);
    const free = await liveTenant();
    expect((await send(free.key)).status).toBe(201);
    await h.deliver();
    for (const t of [sandbox, free]) {
      expect(await balanceOf(t.key)).toMatchObject({ balance: 0, held: 0 });
      expect(await ledgerOf(t.accountId)).toEqual([]);
    }
  });

  it("prices SMS per segment and a country's own price before the * price", async () => {
    provider.answer = delivered;
    const t = await liveTenant();
    await price(t.currency, 'sms', '*', 1_000);
    await price(t.currency, 'sms', 'NP', 300);
    await topUp(t.accountId, 100_000);
    // Nepal, one GSM-7 part.
    expect((await send(t.key)).status).toBe(201);
    // Nepal, 161+ GSM-7 characters: two parts.
    expect((await send(t.key, { message: `Your code is {code}. ${'x'.repeat(150)}` })).status).toBe(201);
    // Nepal, UCS-2 (Devanagari) over 70 units: two parts.
    expect((await send(t.key, { message: `तपाईंको कोड {code} हो। ${'क'.repeat(50)}` })).status).toBe(201);
    // India: the * price.
    expect((await send(t.key, { phone: '+919812345678' })).status).toBe(201);
    const charges = await h.ctx.store.db
      .selectFrom('charges')
      .select(['units', 'unit_price', 'amount', 'country'])
      .where('account_id', '=', t.accountId)
      .orderBy('message_id')
      .execute();
    expect(charges.map((c) => [c.country, c.units, Number(c.unit_price), Number(c.amount)])).toEqual([
      ['NP', 1, 300, 300],
      ['NP', 2, 300, 600],
      ['NP', 2, 300, 600],
      ['IN', 1, 1_000, 1_000],
    ]);
    expect(await balanceOf(t.key)).toMatchObject({ balance: 100_000 - 2_500, held: 2_500 });
    await h.deliver();
    await expectBooksBalance(t.accountId);
  });

  it('a template SMS holds per segment of its rendered text, and a refused one is not queued', async () => {
    provider.answer = delivered;
    const t = await liveTenant();
    await price(t.currency, 'sms', '*', 1_000);
    await topUp(t.accountId, 3_000);
    const submitted = await h.call('POST', '/v1/templates', {
      key: t.key,
      body: {
        name: 'Order',
        body: 'Order {{order}} is on its way and arrives soon; thank you for shopping with us. {{details}}',
        use_case: 'Order notices',
      },
    });
    expect(submitted.status).toBe(201);
    const templateId = submitted.body.data.template_id;
    expect((await h.admin('POST', `/admin/v1/templates/${templateId}/approve`)).status).toBe(200);
    const sms = (details: string) =>
      h.call('POST', '/v1/sms/send', {
        key: t.key,
        body: { phone: nextPhone(), template_id: templateId, variables: { order: 'A-1', details } },
      });
    // 84 + 40 characters of GSM-7 fit one part; 84 + 100, past 160, take two.
    expect((await sms('x'.repeat(40))).status).toBe(201);
    expect((await sms('x'.repeat(100))).status).toBe(201);
    const refused = await sms('y');
    expect(refused.body.error.code).toBe('INSUFFICIENT_BALANCE');
    const charges = await h.ctx.store.db
      .selectFrom('charges')
      .select(['units', 'amount'])
      .where('account_id', '=', t.accountId)
      .orderBy('message_id')
      .execute();
    expect(charges.map((c) => [c.units, Number(c.amount)])).toEqual([
      [1, 1_000],
      [2, 2_000],
    ]);
    expect(await messagesOfApp(t.appId)).toHaveLength(2);
    await h.deliver();
    expect(await balanceOf(t.key)).toMatchObject({ balance: 0, held: 0 });
    await expectBooksBalance(t.accountId);
  });

  it('a resend holds again, and with the balance short it is refused and changes nothing', async () => {
    provider.answer = delivered;
    const t = await liveTenant({ resend_cooldown: 0 });
    await price(t.currency, 'sms', '*', 10_000);
    await topUp(t.accountId, 20_000);
    const sent = await send(t.key);
    const otpId = sent.body.data.otp_id;
    const again = await h.call('POST', '/v1/otp/resend', { key: t.key, body: { otp_id: otpId } });
    expect(again.status).toBe(200);
    expect(again.body.data.send_count).toBe(2);
    const refused = await h.call('POST', '/v1/otp/resend', { key: t.key, body: { otp_id: otpId } });
    expect(refused.body.error.code).toBe('INSUFFICIENT_BALANCE');
    const detail = await h.call('GET', `/v1/otp/${otpId}`, { key: t.key });
    expect(detail.body.data).toMatchObject({ send_count: 2, status: 'pending' });
    expect(detail.body.data.deliveries).toHaveLength(2);
    await h.deliver();
    const { entries } = await expectBooksBalance(t.accountId);
    expect(entries.filter((e) => e.type === 'capture')).toHaveLength(2);
  });
});

describe('settlement', () => {
  it('a failed delivery releases its hold, and the OTP fails', async () => {
    provider.answer = () => new ProviderError('number barred', 'permanent', '21610');
    const t = await liveTenant();
    await price(t.currency, 'sms', '*', 7_000);
    await topUp(t.accountId, 7_000);
    const otpId = (await send(t.key)).body.data.otp_id;
    expect(await balanceOf(t.key)).toMatchObject({ balance: 0, held: 7_000 });
    await h.deliver();
    expect(await balanceOf(t.key)).toMatchObject({ balance: 7_000, held: 0 });
    const { entries } = await expectBooksBalance(t.accountId);
    expect(entries.map((e) => [e.type, Number(e.amount), Number(e.balance_after)])).toEqual([
      ['topup', 7_000, 7_000],
      ['hold', -7_000, 0],
      ['release', 7_000, 7_000],
    ]);
    expect((await h.call('GET', `/v1/otp/${otpId}`, { key: t.key })).body.data.status).toBe('failed');
    provider.answer = delivered;
  });

  it('repeated and late receipts settle once: delivered twice captures once, failed after delivered releases nothing', async () => {
    provider.answer = sentOnly;
    const t = await liveTenant();
    await price(t.currency, 'sms', '*', 3_000);
    await topUp(t.accountId, 9_000);
    await send(t.key);
    await h.deliver();
    const [message] = await messagesOfApp(t.appId);
    expect(message).toMatchObject({ status: 'sent' });
    expect(await balanceOf(t.key)).toMatchObject({ balance: 6_000, held: 3_000 });
    const receipt = { provider: 'test', provider_message_id: message!.provider_message_id! };
    await Promise.all([
      recordReceipt(h.ctx, { ...receipt, status: 'delivered' }),
      recordReceipt(h.ctx, { ...receipt, status: 'delivered' }),
    ]);
    await recordReceipt(h.ctx, { ...receipt, status: 'failed' });
    await recordReceipt(h.ctx, { ...receipt, status: 'delivered' });
    expect(await balanceOf(t.key)).toMatchObject({ balance: 6_000, held: 0 });
    const { entries } = await expectBooksBalance(t.accountId);
    expect(entries.filter((e) => e.type === 'capture')).toHaveLength(1);
    expect(entries.filter((e) => e.type === 'release')).toHaveLength(0);
    provider.answer = delivered;
  });

  it('captures on sent when the operator says so, and a later failure releases nothing', async () => {
    provider.answer = sentOnly;
    await withSettings({ capture_on: 'sent' }, async () => {
      const t = await liveTenant();
      await price(t.currency, 'sms', '*', 4_000);
      await topUp(t.accountId, 4_000);
      await send(t.key);
      await h.deliver();
      expect(await balanceOf(t.key)).toMatchObject({ balance: 0, held: 0 });
      const [message] = await messagesOfApp(t.appId);
      await recordReceipt(h.ctx, {
        provider: 'test',
        provider_message_id: message!.provider_message_id!,
        status: 'failed',
      });
      expect(await balanceOf(t.key)).toMatchObject({ balance: 0, held: 0 });
      const { charges } = await expectBooksBalance(t.accountId);
      expect(charges.map((c) => c.state)).toEqual(['captured']);
    });
    provider.answer = delivered;
  });

  it('a sent message with no receipt is settled after capture_after: captured, or released when set', async () => {
    provider.answer = sentOnly;
    for (const action of ['capture', 'release'] as const) {
      await withSettings({ capture_after: 600, no_receipt: action }, async () => {
        const t = await liveTenant();
        await price(t.currency, 'sms', '*', 2_000);
        await topUp(t.accountId, 2_000);
        await send(t.key);
        await h.deliver();
        await sweepOnce(h.ctx);
        expect(await balanceOf(t.key)).toMatchObject({ balance: 0, held: 2_000 });
        h.clock.advance(599);
        await sweepOnce(h.ctx);
        expect((await balanceOf(t.key)).held).toBe(2_000);
        h.clock.advance(1);
        // Two sweepers (two processes) at once settle it once.
        await Promise.all([sweepOnce(h.ctx), sweepOnce(h.ctx)]);
        expect(await balanceOf(t.key)).toMatchObject({
          balance: action === 'capture' ? 0 : 2_000,
          held: 0,
        });
        const { charges } = await expectBooksBalance(t.accountId);
        expect(charges.map((c) => c.state)).toEqual([action === 'capture' ? 'captured' : 'released']);
        // A receipt after the sweep changes nothing.
        const [message] = await messagesOfApp(t.appId);
        await recordReceipt(h.ctx, {
          provider: 'test',
          provider_message_id: message!.provider_message_id!,
          status: 'delivered',
        });
        await expectBooksBalance(t.accountId);
      });
    }
    provider.answer = delivered;
  });

  it('no channel fallback when the balance does not cover it: the OTP fails as if there were none', async () => {
    provider.answer = (m) =>
      m.channel === 'sms' ? new ProviderError('unreachable', 'permanent') : delivered(m);
    const t = await liveTenant({ channels: ['sms', 'whatsapp'], fallback_channels: ['whatsapp'] });
    await price(t.currency, 'sms', '*', 1_000);
    await price(t.currency, 'whatsapp', '*', 5_000);
    await topUp(t.accountId, 1_000);
    const otpId = (await send(t.key)).body.data.otp_id;
    await h.deliver();
    const detail = (await h.call('GET', `/v1/otp/${otpId}`, { key: t.key })).body.data;
    expect(detail.status).toBe('failed');
    expect(detail.deliveries.map((d: { channel: string }) => d.channel)).toEqual(['sms']);
    expect(await balanceOf(t.key)).toMatchObject({ balance: 1_000, held: 0 });
    await expectBooksBalance(t.accountId);

    // With the balance for it, the fallback holds again and delivers.
    await topUp(t.accountId, 5_000);
    const second = (await send(t.key)).body.data.otp_id;
    await h.deliver();
    const after = (await h.call('GET', `/v1/otp/${second}`, { key: t.key })).body.data;
    expect(after.deliveries.map((d: { channel: string; status: string }) => [d.channel, d.status])).toEqual([
      ['sms', 'failed'],
      ['whatsapp', 'delivered'],
    ]);
    expect(await balanceOf(t.key)).toMatchObject({ balance: 1_000, held: 0 });
    await expectBooksBalance(t.accountId);
    provider.answer = delivered;
  });
});

describe('low balance', () => {
  it('balance.low fires once per downward crossing of the threshold, also under parallel sends', async () => {
    provider.answer = delivered;
    const t = await liveTenant();
    await price(t.currency, 'sms', '*', 1_000);
    const set = await h.admin('PATCH', `/admin/v1/accounts/${t.accountId}/wallet`, {
      low_balance_threshold: 5_000,
    });
    expect(set.body.data).toMatchObject({ low_balance_threshold: 5_000 });
    await topUp(t.accountId, 10_000);

    // 10 000 → 0 in parallel: one crossing (5 000 → 4 000).
    expect(tally(await parallel(10, () => send(t.key)))).toEqual({ '201': 10 });
    let alerts = await activityOf(t.accountId, 'balance.low');
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ app_id: null });
    expect(JSON.parse(alerts[0]!.detail)).toMatchObject({
      balance: 4_000,
      low_balance_threshold: 5_000,
      currency: t.currency,
    });
    await h.deliver();

    // Back above, and down again: a second crossing.
    await topUp(t.accountId, 6_000);
    expect((await send(t.key)).status).toBe(201); // 6 000 → 5 000: not below
    expect(await activityOf(t.accountId, 'balance.low')).toHaveLength(1);
    expect((await send(t.key)).status).toBe(201); // 5 000 → 4 000
    expect((await send(t.key)).status).toBe(201); // still below: no new alert
    alerts = await activityOf(t.accountId, 'balance.low');
    expect(alerts).toHaveLength(2);
    expect((await balanceOf(t.key)).low_balance_threshold).toBe(5_000);
    await h.deliver();
    await expectBooksBalance(t.accountId);
  });
});

describe('top-ups and adjustments', () => {
  it('a top-up replayed with the same reference credits once and answers the same entry, also in parallel', async () => {
    const t = await liveTenant();
    const url = `/admin/v1/accounts/${t.accountId}/topups`;
    const first = await h.admin('POST', url, { amount: 50_000, reference: 'pay-1', note: 'bank' });
    expect(first.status).toBe(201);
    expect(first.body.data).toMatchObject({
      type: 'topup',
      amount: 50_000,
      held_change: 0,
      balance_after: 50_000,
      reference: 'pay-1',
      note: 'bank',
      app_id: null,
    });
    const replay = await h.admin('POST', url, { amount: 50_000, reference: 'pay-1', note: 'bank' });
    expect(replay.status).toBe(201);
    expect(replay.body.data).toEqual(first.body.data);

    const racing = await parallel(20, () => h.admin('POST', url, { amount: 7_000, reference: 'pay-2' }));
    expect(tally(racing)).toEqual({ '201': 20 });
    expect(new Set(racing.map((r) => r.body.data.id)).size).toBe(1);
    expect((await balanceOf(t.key)).balance).toBe(57_000);

    const reused = await h.admin('POST', url, { amount: 1, reference: 'pay-1' });
    expect(reused.status).toBe(422);
    expect(reused.body.error).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED', field: 'reference' });
    expect((await activityOf(t.accountId, 'wallet.topup')).length).toBe(2);
    await expectBooksBalance(t.accountId);
  });

  it('refuses bad top-ups: unknown account, zero, negative, missing reference', async () => {
    const t = await liveTenant();
    const bad = [
      ['/admin/v1/accounts/acc_nope/topups', { amount: 1, reference: 'x' }, 404, 'NOT_FOUND'],
      [`/admin/v1/accounts/${t.accountId}/topups`, { amount: 0, reference: 'x' }, 400, 'INVALID_REQUEST'],
      [`/admin/v1/accounts/${t.accountId}/topups`, { amount: -5, reference: 'x' }, 400, 'INVALID_REQUEST'],
      [`/admin/v1/accounts/${t.accountId}/topups`, { amount: 5 }, 400, 'INVALID_REQUEST'],
      [`/admin/v1/accounts/${t.accountId}/topups`, { amount: 1.5, reference: 'x' }, 400, 'INVALID_REQUEST'],
    ] as const;
    for (const [url, body, status, code] of bad) {
      const res = await h.admin('POST', url, body);
      expect([res.status, res.body.error.code], JSON.stringify(body)).toEqual([status, code]);
    }
    const noToken = await h.call('POST', `/admin/v1/accounts/${t.accountId}/topups`, {
      body: { amount: 1, reference: 'y' },
    });
    expect(noToken.status).toBe(401);
    expect(await ledgerOf(t.accountId)).toEqual([]);
  });

  it('adjusts by a signed amount, idempotent, never below 0', async () => {
    const t = await liveTenant();
    const url = `/admin/v1/accounts/${t.accountId}/adjustments`;
    await topUp(t.accountId, 10_000);
    const up = await h.admin('POST', url, { amount: 500, reference: 'adj-1', note: 'goodwill' });
    expect(up.body.data).toMatchObject({ type: 'adjustment', amount: 500, balance_after: 10_500 });
    const down = await h.admin('POST', url, { amount: -10_000, reference: 'adj-2' });
    expect(down.body.data).toMatchObject({ amount: -10_000, balance_after: 500 });
    expect((await h.admin('POST', url, { amount: -10_000, reference: 'adj-2' })).body.data.id).toBe(
      down.body.data.id,
    );
    const tooMuch = await h.admin('POST', url, { amount: -501, reference: 'adj-3' });
    expect(tooMuch.status).toBe(402);
    expect(tooMuch.body.error.code).toBe('INSUFFICIENT_BALANCE');
    expect((await h.admin('POST', url, { amount: 0, reference: 'adj-4' })).body.error.code).toBe(
      'INVALID_REQUEST',
    );
    expect((await balanceOf(t.key)).balance).toBe(500);
    expect((await activityOf(t.accountId, 'wallet.adjusted')).length).toBe(2);
    await expectBooksBalance(t.accountId);
  });

  it('refunds a captured charge once; a held or unknown one is refused', async () => {
    provider.answer = sentOnly;
    const t = await liveTenant();
    await price(t.currency, 'sms', '*', 2_500);
    await topUp(t.accountId, 5_000);
    await send(t.key);
    await send(t.key);
    await h.deliver();
    const [first, second] = await messagesOfApp(t.appId);
    await recordReceipt(h.ctx, {
      provider: 'test',
      provider_message_id: first!.provider_message_id!,
      status: 'delivered',
    });
    const refunds = await parallel(5, () =>
      h.admin('POST', `/admin/v1/messages/${first!.id}/refund`, { note: 'wrong number' }),
    );
    expect(tally(refunds)).toEqual({ '201': 5 });
    expect(new Set(refunds.map((r) => r.body.data.id)).size).toBe(1);
    expect(refunds[0]!.body.data).toMatchObject({ type: 'refund', amount: 2_500, reference: first!.id });
    const held = await h.admin('POST', `/admin/v1/messages/${second!.id}/refund`, {});
    expect([held.status, held.body.error.code]).toEqual([400, 'INVALID_REQUEST']);
    expect((await h.admin('POST', '/admin/v1/messages/msg_nope/refund', {})).status).toBe(404);
    expect(await balanceOf(t.key)).toMatchObject({ balance: 2_500, held: 2_500 });
    await expectBooksBalance(t.accountId);
    provider.answer = delivered;
  });

  it('gives a new account its trial OTPs as credit at the default SMS price', async () => {
    await price('TRL', 'sms', '*', 30_000);
    await withSettings({ trial_otps: 3 }, async () => {
      const account = await h.admin('POST', '/admin/v1/accounts', { name: 'Trial', currency: 'TRL' });
      expect(account.body.data.balance).toBe(90_000);
      const entries = await ledgerOf(account.body.data.id);
      expect(entries.map((e) => [e.type, Number(e.amount), e.reference])).toEqual([
        ['trial', 90_000, 'trial'],
      ]);
      // A currency with no SMS price has nothing to give.
      const none = await h.admin('POST', '/admin/v1/accounts', { name: 'No price', currency: 'NOP' });
      expect(none.body.data.balance).toBe(0);
    });
  });
});

describe('the tenant view', () => {
  it('shows its own balance, ledger pages and prices; never another account’s', async () => {
    provider.answer = delivered;
    const a = await liveTenant();
    const b = await liveTenant();
    await price(a.currency, 'sms', '*', 1_000);
    await price(a.currency, 'whatsapp', 'NP', 800);
    await topUp(a.accountId, 10_000, 'a-1');
    await topUp(b.accountId, 99_000, 'b-1');
    for (let i = 0; i < 3; i++) await send(a.key);
    await h.deliver();

    expect(await balanceOf(a.key)).toEqual({
      account_id: a.accountId,
      balance: 7_000,
      currency: a.currency,
      held: 0,
      low_balance_threshold: 0,
    });
    expect((await balanceOf(b.key)).balance).toBe(99_000);

    // 1 top-up + 3 holds + 3 captures, newest first, 3 a page.
    const seen: { type: string; balance_after: number }[] = [];
    let cursor: string | null = null;
    do {
      const page: Response = await h.call('GET', `/v1/ledger?limit=3${cursor ? `&cursor=${cursor}` : ''}`, {
        key: a.key,
      });
      expect(page.status).toBe(200);
      seen.push(...page.body.data.items);
      cursor = page.body.data.next_cursor;
    } while (cursor);
    expect(seen).toHaveLength(7);
    expect(seen.at(-1)).toMatchObject({ type: 'topup', amount: 10_000, reference: 'a-1' });
    expect(seen.filter((e) => e.type === 'hold')).toHaveLength(3);
    expect(seen[0]).toMatchObject({ balance_after: 7_000 });
    const holds = await h.call('GET', '/v1/ledger?type=hold', { key: a.key });
    expect(holds.body.data.items.map((e: { type: string }) => e.type)).toEqual(['hold', 'hold', 'hold']);
    const bLedger = await h.call('GET', '/v1/ledger', { key: b.key });
    expect(bLedger.body.data.items.map((e: { reference: string }) => e.reference)).toEqual(['b-1']);

    const prices = await h.call('GET', '/v1/prices', { key: a.key });
    expect(prices.body.data).toMatchObject({
      currency: a.currency,
      items: [
        { channel: 'sms', country: '*', price: 1_000, unit: 'segment' },
        { channel: 'whatsapp', country: 'NP', price: 800, unit: 'message' },
      ],
    });
    expect((await h.call('GET', '/v1/prices', { key: b.key })).body.data.items).toEqual([]);
    expect((await h.call('GET', '/v1/balance')).status).toBe(401);
    expect((await h.call('GET', '/v1/ledger?type=nope', { key: a.key })).body.error.code).toBe(
      'INVALID_REQUEST',
    );
  });
});

describe('operator settings and prices', () => {
  it('reads and changes the wallet settings, refusing bad values', async () => {
    const read = await h.admin('GET', '/admin/v1/wallet/settings');
    expect(read.body.data).toMatchObject({
      capture_on: 'delivered',
      capture_after: 3600,
      no_receipt: 'capture',
      trial_otps: 0,
    });
    for (const bad of [
      { capture_on: 'queued' },
      { capture_after: 5 },
      { no_receipt: 'keep' },
      { trial_otps: -1 },
      { other: 1 },
    ]) {
      const res = await h.admin('PATCH', '/admin/v1/wallet/settings', bad);
      expect([res.status, res.body.error.code], JSON.stringify(bad)).toEqual([400, 'INVALID_REQUEST']);
    }
    await withSettings({ capture_after: 120 }, async () => {
      expect((await h.admin('GET', '/admin/v1/wallet/settings')).body.data.capture_after).toBe(120);
    });
    expect((await h.admin('GET', '/admin/v1/wallet/settings')).body.data.capture_after).toBe(3600);
  });

  it('sets, lists and removes prices, refusing bad ones', async () => {
    const set = await put('/admin/v1/prices', {
      currency: 'prc',
      channel: 'voice',
      country: 'np',
      price: 12_000,
    });
    expect(set.body.data).toMatchObject({ currency: 'PRC', channel: 'voice', country: 'NP', price: 12_000 });
    await put('/admin/v1/prices', { currency: 'PRC', channel: 'voice', country: 'NP', price: 13_000 });
    await put('/admin/v1/prices', { currency: 'PRC', channel: 'sms', country: '*', price: 1 });
    const listed = await h.admin('GET', '/admin/v1/prices?currency=PRC');
    expect(
      listed.body.data.items.map((p: { channel: string; price: number }) => [p.channel, p.price]),
    ).toEqual([
      ['sms', 1],
      ['voice', 13_000],
    ]);
    for (const bad of [
      { channel: 'fax', country: '*', price: 1 },
      { channel: 'sms', country: 'NPL', price: 1 },
      { channel: 'sms', country: '*', price: -1 },
      { channel: 'sms', country: '*', price: 0.5 },
      { channel: 'sms', country: '*' },
    ]) {
      const res = await put('/admin/v1/prices', bad);
      expect([res.status, res.body.error.code], JSON.stringify(bad)).toEqual([400, 'INVALID_REQUEST']);
    }
    expect((await h.admin('DELETE', '/admin/v1/prices/PRC/voice/NP')).body.data).toEqual({ deleted: true });
    expect((await h.admin('DELETE', '/admin/v1/prices/PRC/voice/NP')).status).toBe(404);
    expect((await h.admin('GET', '/admin/v1/prices?currency=PRC')).body.data.items).toHaveLength(1);
  });
});
