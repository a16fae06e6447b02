import { beforeAll, describe, expect, it } from 'vitest';
import type { OutboundMessage, Provider, ProviderResult } from '../../src/delivery/provider.js';
import { ProviderError } from '../../src/delivery/provider.js';
import { DeliveryWorker } from '../../src/delivery/worker.js';
import { createHarness, type Harness } from '../harness.js';

/** A provider whose every send waits until the test answers it. */
class HeldProvider implements Provider {
  readonly name = 'held';
  readonly type = 'held';
  readonly channels = ['sms', 'whatsapp', 'voice', 'rcs'] as const;
  sends: { message: OutboundMessage; answer: (r: ProviderResult | Error) => void }[] = [];
  send(message: OutboundMessage): Promise<ProviderResult> {
    return new Promise((resolve, reject) => {
      this.sends.push({ message, answer: (r) => (r instanceof Error ? reject(r) : resolve(r)) });
    });
  }
}

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});

const waitFor = async (check: () => boolean) => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(check()).toBe(true);
};

async function messageOf(otpId: string) {
  return h.ctx.store.db
    .selectFrom('messages')
    .selectAll()
    .where('otp_id', '=', otpId)
    .executeTakeFirstOrThrow();
}

async function send(phone: string) {
  const { key } = await h.tenant({ environment: 'live' });
  const res = await h.call('POST', '/v1/otp/send', { key, body: { phone } });
  expect(res.status).toBe(201);
  return { key, otpId: res.body.data.otp_id as string };
}

describe('the delivery worker', () => {
  it('lets a late worker whose lease ran out overwrite nothing of the newer claim', async () => {
    const { otpId } = await send('+9779841700001');
    const provider = new HeldProvider();
    const slow = new DeliveryWorker(h.ctx, () => provider);
    const fresh = new DeliveryWorker(h.ctx, () => provider);

    const first = slow.drainOnce();
    await waitFor(() => provider.sends.length === 1);
    h.clock.advance(31); // the first claim's 30 s lease runs out
    const second = fresh.drainOnce();
    await waitFor(() => provider.sends.length === 2);
    provider.sends[1]!.answer({ provider_message_id: 'p-2', status: 'sent' });
    await second;
    // The stale worker now fails, retryably: it must not requeue the sent message.
    provider.sends[0]!.answer(new ProviderError('timeout', true));
    await first;

    const message = await messageOf(otpId);
    expect(message).toMatchObject({
      status: 'sent',
      provider_message_id: 'p-2',
      tries: 2,
      text_ciphertext: null,
    });
    h.clock.advance(600);
    expect(await fresh.drainOnce()).toBe(0);
    expect(provider.sends).toHaveLength(2);
  });

  it('retries a retryable failure later and fails a permanent one at once', async () => {
    const retry = await send('+9779841700002');
    const provider = new HeldProvider();
    const worker = new DeliveryWorker(h.ctx, () => provider);
    const round = worker.drainOnce();
    await waitFor(() => provider.sends.length === 1);
    provider.sends[0]!.answer(new ProviderError('throttled', true));
    await round;
    expect(await messageOf(retry.otpId)).toMatchObject({ status: 'queued', error: 'throttled', tries: 1 });
    expect(await worker.drainOnce()).toBe(0); // not due yet
    h.clock.advance(5);
    const again = worker.drainOnce();
    await waitFor(() => provider.sends.length === 2);
    provider.sends[1]!.answer(new ProviderError('number barred', false));
    await again;
    expect(await messageOf(retry.otpId)).toMatchObject({
      status: 'failed',
      error: 'number barred',
      text_ciphertext: null,
    });
  });

  it('does not send the code of an OTP that ended before delivery', async () => {
    const { key, otpId } = await send('+9779841700003');
    expect((await h.call('POST', `/v1/otp/${otpId}/cancel`, { key })).status).toBe(200);
    const provider = new HeldProvider();
    await new DeliveryWorker(h.ctx, () => provider).drainOnce();
    expect(provider.sends).toHaveLength(0);
    expect(await messageOf(otpId)).toMatchObject({ status: 'failed', text_ciphertext: null });
  });

  it('fails a message whose worker died on every try instead of claiming it forever', async () => {
    const { otpId } = await send('+9779841700004');
    const provider = new HeldProvider();
    const worker = new DeliveryWorker(h.ctx, () => provider, {
      batch: 10,
      leaseMs: 1000,
      pollMs: 1000,
      maxTries: 2,
    });
    // Two claims whose workers "die" (never answer), then the cap.
    for (let i = 0; i < 2; i++) {
      void worker.drainOnce();
      await waitFor(() => provider.sends.length === i + 1);
      h.clock.advance(2);
    }
    await worker.drainOnce();
    expect(provider.sends).toHaveLength(2);
    expect(await messageOf(otpId)).toMatchObject({ status: 'failed', error: 'Too many tries.', tries: 3 });
  });
});
