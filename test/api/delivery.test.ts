import { beforeAll, describe, expect, it } from 'vitest';
import type { Channel } from '../../src/core/policy.js';
import type { OutboundMessage, Provider, ProviderResult } from '../../src/delivery/provider.js';
import { ProviderError } from '../../src/delivery/provider.js';
import { recordReceipt } from '../../src/delivery/receipts.js';
import { DeliveryWorker, type RouteFn } from '../../src/delivery/worker.js';
import { codeFromInbox, createHarness, type Harness } from '../harness.js';

/** A provider whose every send waits until the test answers it. */
class HeldProvider implements Provider {
  readonly type = 'held';
  readonly channels = ['sms', 'whatsapp', 'voice', 'rcs'] as const;
  sends: { message: OutboundMessage; answer: (r: ProviderResult | Error) => void }[] = [];
  constructor(readonly name = 'held') {}
  send(message: OutboundMessage): Promise<ProviderResult> {
    return new Promise((resolve, reject) => {
      this.sends.push({ message, answer: (r) => (r instanceof Error ? reject(r) : resolve(r)) });
    });
  }
}

/** A provider that answers at once, from a script of answers (the last repeats). */
class ScriptedProvider implements Provider {
  readonly type = 'scripted';
  readonly channels = ['sms', 'whatsapp', 'voice', 'rcs'] as const;
  sends: OutboundMessage[] = [];
  constructor(
    readonly name: string,
    private readonly answers: (ProviderResult | ProviderError)[],
    readonly receipts = false,
  ) {}
  async send(message: OutboundMessage): Promise<ProviderResult> {
    this.sends.push(message);
    const answer = this.answers[Math.min(this.sends.length - 1, this.answers.length - 1)]!;
    if (answer instanceof Error) throw answer;
    return answer;
  }
}

const sent = (id: string): ProviderResult => ({ provider_message_id: id, status: 'sent' });

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});

const waitFor = async (check: () => boolean) => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(check()).toBe(true);
};

async function messagesOf(otpId: string) {
  return h.ctx.store.db
    .selectFrom('messages')
    .selectAll()
    .where('otp_id', '=', otpId)
    .orderBy('id')
    .execute();
}
const messageOf = async (otpId: string) => (await messagesOf(otpId))[0]!;

let phones = 0;
async function send(policy: Record<string, unknown> = {}, body: Record<string, unknown> = {}) {
  const { key, app } = await h.tenant({ environment: 'live', ...policy });
  const phone = `+97798417${String(++phones).padStart(5, '0')}`;
  const res = await h.call('POST', '/v1/otp/send', { key, body: { phone, ...body } });
  expect(res.status).toBe(201);
  return { key, app, phone, otpId: res.body.data.otp_id as string };
}

const otpStatus = async (otpId: string) =>
  (await h.ctx.store.db.selectFrom('otps').select('status').where('id', '=', otpId).executeTakeFirstOrThrow())
    .status;

/** Runs rounds until nothing is due. */
async function drain(worker: DeliveryWorker) {
  while ((await worker.drainOnce()) > 0) {
    // until nothing is due
  }
}

describe('the delivery worker', () => {
  it('never sends a message twice to a provider that may have it, and takes its late answer', async () => {
    const { otpId } = await send();
    const provider = new HeldProvider();
    const slow = new DeliveryWorker(h.ctx, () => [provider]);
    const fresh = new DeliveryWorker(h.ctx, () => [provider]);

    const first = slow.drainOnce();
    await waitFor(() => provider.sends.length === 1);
    expect(await messageOf(otpId)).toMatchObject({ status: 'sending', provider: 'held' });
    h.clock.advance(31); // the first claim's 30 s lease runs out, as if its process died
    await fresh.drainOnce();
    expect(provider.sends).toHaveLength(1);
    expect(await messageOf(otpId)).toMatchObject({ status: 'unknown', provider: 'held' });

    // The first worker's answer comes after all: the message was sent.
    provider.sends[0]!.answer(sent('p-1'));
    await first;
    expect(await messageOf(otpId)).toMatchObject({
      status: 'sent',
      provider_message_id: 'p-1',
      text_ciphertext: null,
    });
    h.clock.advance(600);
    expect(await fresh.drainOnce()).toBe(0);
    expect(provider.sends).toHaveLength(1);
  });

  it('retries a retryable failure on the same provider with backoff, then fails over or fails', async () => {
    const { otpId } = await send();
    const provider = new ScriptedProvider('flaky', [
      new ProviderError('throttled', 'retry', 'ESME_RTHROTTLED'),
    ]);
    const worker = new DeliveryWorker(h.ctx, () => [provider]);
    await worker.drainOnce();
    expect(await messageOf(otpId)).toMatchObject({
      status: 'queued',
      error: 'flaky: throttled',
      provider_tries: 1,
      submitted_at: null,
    });
    expect(await worker.drainOnce()).toBe(0); // not due yet
    for (const wait of [2, 10, 30]) {
      h.clock.advance(wait);
      expect(await worker.drainOnce()).toBe(1);
    }
    // Four tries on the only provider: the message fails, and with nothing else live the OTP too.
    expect(provider.sends).toHaveLength(4);
    expect(await messageOf(otpId)).toMatchObject({ status: 'failed', error: 'flaky: throttled' });
    expect(await otpStatus(otpId)).toBe('failed');
    const { key } = await h.tenant({ environment: 'live' });
    expect((await h.call('GET', `/v1/otp/${otpId}`, { key })).status).toBe(404);
  });

  it('falls over to the next provider at once on a permanent failure, each provider once', async () => {
    const { otpId, key } = await send();
    const bad = new ScriptedProvider('bad', [new ProviderError('number barred', 'permanent', '21610')]);
    const good = new ScriptedProvider('good', [sent('g-1')]);
    const worker = new DeliveryWorker(h.ctx, () => [bad, good]);
    await drain(worker);
    expect(bad.sends).toHaveLength(1);
    expect(good.sends).toHaveLength(1);
    expect(await messageOf(otpId)).toMatchObject({
      status: 'sent',
      provider: 'good',
      provider_index: 1,
      provider_message_id: 'g-1',
      error: null,
    });
    const detail = await h.call('GET', `/v1/otp/${otpId}`, { key });
    expect(detail.status).toBe(200);
    expect(detail.body.data).toMatchObject({
      status: 'pending',
      delivery_status: 'sent',
      deliveries: [{ channel: 'sms', status: 'sent', provider: 'good', provider_message_id: 'g-1' }],
    });
    const messageId = detail.body.data.deliveries[0].message_id;
    const message = await h.call('GET', `/v1/messages/${messageId}`, { key });
    expect(message.status).toBe(200);
    expect(message.body.data).toMatchObject({
      message_id: messageId,
      otp_id: otpId,
      status: 'sent',
      tries: 2,
    });
    expect(JSON.stringify(message.body)).not.toMatch(/code is/);
    // Another tenant sees neither.
    const other = await h.tenant({ environment: 'live' });
    expect((await h.call('GET', `/v1/messages/${messageId}`, { key: other.key })).body.error.code).toBe(
      'NOT_FOUND',
    );
  });

  it('waits for a receipt after an unknown outcome, and settles by it', async () => {
    const { otpId } = await send();
    const provider = new ScriptedProvider('slow', [new ProviderError('no answer', 'unknown', 'TIMEOUT')]);
    const other = new ScriptedProvider('other', [sent('o-1')]);
    const worker = new DeliveryWorker(h.ctx, () => [provider, other], { reconcileMs: 60_000 });
    await drain(worker);
    const row = await messageOf(otpId);
    expect(row).toMatchObject({ status: 'unknown', provider: 'slow' });
    h.clock.advance(30);
    expect(await worker.drainOnce()).toBe(0);
    // The receipt names our id (the provider echoed it): settled, never sent anywhere else.
    expect(
      await recordReceipt(h.ctx, {
        provider: 'slow',
        message_id: row.id,
        provider_message_id: 's-9',
        status: 'delivered',
      }),
    ).toBe(true);
    h.clock.advance(60);
    expect(await worker.drainOnce()).toBe(0);
    expect(other.sends).toHaveLength(0);
    expect(await messageOf(otpId)).toMatchObject({ status: 'delivered', provider_message_id: 's-9' });
    // Receipts repeat and come out of order: a final status stays.
    await recordReceipt(h.ctx, { provider: 'slow', provider_message_id: 's-9', status: 'failed' });
    await recordReceipt(h.ctx, { provider: 'slow', provider_message_id: 's-9', status: 'sent' });
    expect(await messageOf(otpId)).toMatchObject({ status: 'delivered', error: null });
    // A receipt from another provider with our id is not taken.
    expect(await recordReceipt(h.ctx, { provider: 'other', message_id: row.id, status: 'failed' })).toBe(
      false,
    );
  });

  it('hands an unknown outcome with no receipt to the next provider, never the same one again', async () => {
    const { otpId } = await send();
    const provider = new ScriptedProvider('silent', [new ProviderError('no answer', 'unknown')]);
    const next = new ScriptedProvider('next', [sent('n-1')]);
    const worker = new DeliveryWorker(h.ctx, () => [provider, next], { reconcileMs: 60_000 });
    await drain(worker);
    h.clock.advance(61);
    await drain(worker);
    expect(provider.sends).toHaveLength(1);
    expect(next.sends).toHaveLength(1);
    expect(await messageOf(otpId)).toMatchObject({ status: 'sent', provider: 'next' });
  });

  it('after an unknown outcome and no receipt, sends again only to a provider that reports every message', async () => {
    const reporting = await send();
    const silent = await send();
    const withReceipts = new ScriptedProvider(
      'reports',
      [new ProviderError('no answer', 'unknown'), sent('r-2')],
      true,
    );
    const without = new ScriptedProvider(
      'quiet',
      [new ProviderError('no answer', 'unknown'), sent('q-2')],
      false,
    );
    const worker = new DeliveryWorker(h.ctx, (m) => [m.phone === reporting.phone ? withReceipts : without], {
      reconcileMs: 60_000,
    });
    await drain(worker);
    h.clock.advance(61);
    await drain(worker);
    expect(withReceipts.sends).toHaveLength(2);
    expect(await messageOf(reporting.otpId)).toMatchObject({ status: 'sent', provider_message_id: 'r-2' });
    // The quiet one may have it: failed rather than sent twice.
    expect(without.sends).toHaveLength(1);
    expect(await messageOf(silent.otpId)).toMatchObject({
      status: 'failed',
      error: 'No answer or receipt from quiet.',
    });
    expect(await otpStatus(silent.otpId)).toBe('failed');
  });

  it('does not send the code of an OTP that ended before delivery', async () => {
    const { key, otpId } = await send();
    expect((await h.call('POST', `/v1/otp/${otpId}/cancel`, { key })).status).toBe(200);
    const provider = new HeldProvider();
    await new DeliveryWorker(h.ctx, () => [provider]).drainOnce();
    expect(provider.sends).toHaveLength(0);
    expect(await messageOf(otpId)).toMatchObject({ status: 'failed', text_ciphertext: null });
  });

  it('fails a message with no route', async () => {
    const { otpId } = await send();
    await new DeliveryWorker(h.ctx, () => []).drainOnce();
    expect(await messageOf(otpId)).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(/No route for sms/),
    });
  });
});

describe('channel fallback', () => {
  const policy = {
    channels: ['sms', 'whatsapp', 'voice'] as Channel[],
    default_channel: 'whatsapp' as Channel,
    fallback_channels: ['sms', 'voice'] as Channel[],
    fallback_after: 30,
  };
  /** WhatsApp by `wa`, everything else to the inbox. */
  const routes =
    (wa: Provider): RouteFn =>
    (m) =>
      m.channel === 'whatsapp' ? [wa] : [h.delivery.providers.get('inbox')!];

  it('sends the code by the next channel when the first one fails', async () => {
    const { otpId, phone, key } = await send(policy);
    const wa = new ScriptedProvider('wa', [new ProviderError('not on WhatsApp', 'permanent', '131026')]);
    await drain(new DeliveryWorker(h.ctx, routes(wa)));
    const [first, second] = await messagesOf(otpId);
    expect(first).toMatchObject({ channel: 'whatsapp', status: 'failed', step: 0 });
    expect(second).toMatchObject({ channel: 'sms', status: 'delivered', provider: 'inbox', step: 1 });
    const code = await codeFromInbox(h, phone);
    const verified = await h.call('POST', '/v1/otp/verify', { key, body: { otp_id: otpId, code } });
    expect(verified.body.data.status).toBe('verified');
  });

  it('sends by the next channel when the first is not delivered in time, and not when it is', async () => {
    const late = await send(policy);
    const onTime = await send(policy);
    const wa = new ScriptedProvider('wa', [sent('w-1'), sent('w-2')], true);
    const worker = new DeliveryWorker(h.ctx, routes(wa));
    await drain(worker);
    const onTimeRow = await messageOf(onTime.otpId);
    await recordReceipt(h.ctx, {
      provider: 'wa',
      provider_message_id: onTimeRow.provider_message_id,
      status: 'delivered',
    });
    h.clock.advance(29);
    await drain(worker);
    expect(await messagesOf(late.otpId)).toHaveLength(1);
    h.clock.advance(2);
    await drain(worker);
    const lateRows = await messagesOf(late.otpId);
    expect(lateRows.map((r) => [r.channel, r.status])).toEqual([
      ['whatsapp', 'sent'],
      ['sms', 'delivered'],
    ]);
    // The sms is sent and delivered (inbox): no further fallback to voice,
    // and a late failure of the WhatsApp message does not hand over again.
    await recordReceipt(h.ctx, {
      provider: 'wa',
      provider_message_id: lateRows[0]!.provider_message_id,
      status: 'failed',
    });
    h.clock.advance(60);
    await drain(worker);
    expect((await messagesOf(late.otpId)).map((r) => [r.channel, r.status])).toEqual([
      ['whatsapp', 'failed'],
      ['sms', 'delivered'],
    ]);
    expect(await otpStatus(late.otpId)).toBe('pending');
    expect(await messagesOf(onTime.otpId)).toHaveLength(1);
    // Two workers racing for the same due fallback queue it once.
    const racer = await send(policy);
    await drain(worker);
    h.clock.advance(31);
    await Promise.all([drain(worker), drain(new DeliveryWorker(h.ctx, routes(wa)))]);
    expect((await messagesOf(racer.otpId)).map((r) => r.channel)).toEqual(['whatsapp', 'sms']);
  });

  it('picks the channel by the send number: voice for the third send', async () => {
    const { otpId, key } = await send({
      channels: ['sms', 'voice'],
      send_channels: ['sms', 'sms', 'voice'],
      resend_cooldown: 0,
    });
    for (let i = 0; i < 3; i++) {
      const res = await h.call('POST', '/v1/otp/resend', { key, body: { otp_id: otpId } });
      expect(res.status).toBe(200);
    }
    expect((await messagesOf(otpId)).map((r) => r.channel)).toEqual(['sms', 'sms', 'voice', 'voice']);
  });

  it('refuses fallback and send channels the app does not have', async () => {
    const { accountId } = await h.tenant();
    const res = await h.admin('POST', '/admin/v1/apps', {
      account_id: accountId,
      name: 'x',
      environment: 'live',
      channels: ['sms'],
      fallback_channels: ['voice'],
    });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'INVALID_REQUEST', field: 'fallback_channels' });
    const bad = await h.admin('POST', '/admin/v1/apps', {
      account_id: accountId,
      name: 'x',
      environment: 'live',
      fallback_after: 5000,
    });
    expect(bad.body.error).toMatchObject({ code: 'INVALID_REQUEST', field: 'fallback_after' });
  });
});

describe('GET /admin/v1/providers', () => {
  it('shows the providers, the outbox depth and the oldest due message to the operator only', async () => {
    const { key } = await send();
    h.clock.advance(5);
    const res = await h.admin('GET', '/admin/v1/providers');
    expect(res.status).toBe(200);
    expect(res.body.data.items).toEqual([
      { name: 'inbox', type: 'inbox', channels: ['sms', 'whatsapp', 'voice', 'rcs'], ok: true, detail: null },
    ]);
    expect(res.body.data.routes).toBe(0);
    expect(res.body.data.outbox_depth).toBeGreaterThanOrEqual(1);
    expect(res.body.data.oldest_due_seconds).toBeGreaterThanOrEqual(5);
    expect((await h.call('GET', '/admin/v1/providers', { key })).body.error.code).toBe('INVALID_ADMIN_TOKEN');
  });
});
