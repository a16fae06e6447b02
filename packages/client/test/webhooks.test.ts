import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebhookReceiver } from '../../../test/support/webhook-receiver.js';
import { Otpd as Client, type WebhookEvent, WebhookVerificationError, webhooks } from '../src/index.js';
import { type Otpd, startOtpd, until } from './support/otpd.js';

/**
 * webhooks.verify against deliveries that a real otpd process signed and
 * sent to a loopback receiver (OTPD_WEBHOOK_ALLOW_PRIVATE=true), and
 * against every way of tampering with one.
 */

const SANDBOX_CODE = '123456';

async function rejection(call: Promise<unknown>): Promise<WebhookVerificationError> {
  const error = await call.then(
    () => expect.unreachable('verification should have failed'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(WebhookVerificationError);
  return error as WebhookVerificationError;
}

describe('webhooks.verify', () => {
  let otpd: Otpd;
  let receiver: WebhookReceiver;
  let appId: string;
  let endpointId: string;
  let secret: string;
  let client: Client;
  let otpId: string;

  beforeAll(async () => {
    otpd = await startOtpd({ OTPD_WEBHOOK_ALLOW_PRIVATE: 'true' });
    receiver = await WebhookReceiver.start();
    const tenant = await otpd.tenant();
    appId = tenant.appId;
    const endpoint = await otpd.admin<{ id: string; secret: string }>('POST', `/apps/${appId}/webhooks`, {
      url: receiver.url('/otpd/events'),
    });
    endpointId = endpoint.id;
    secret = endpoint.secret;
    client = new Client({ apiKey: tenant.key, baseUrl: otpd.url, webhookSecret: secret });

    otpId = (await client.otp.send({ phone: '+9779845000001' })).otp_id;
    await client.otp.verify({ otp_id: otpId, code: SANDBOX_CODE });
    await until('otp.sent, otp.delivered and otp.verified', () => {
      const types = receiver.bodies().map((b) => b.type);
      return ['otp.sent', 'otp.delivered', 'otp.verified'].every((t) => types.includes(t)) ? true : undefined;
    });
  });
  afterAll(() => receiver.close());

  const delivery = (type: string) => {
    const found = receiver.received.find((r) => JSON.parse(r.body).type === type);
    if (!found) throw new Error(`no ${type} delivery`);
    return found;
  };

  it('verifies each real delivery and answers the event', async () => {
    for (const received of receiver.received) {
      const event = await client.webhooks.verify(received.body, received.headers);
      expect(event.id).toBe(received.headers['webhook-id']);
      expect(event).toEqual(JSON.parse(received.body));
      expect(event.app).toMatchObject({ app_id: appId, environment: 'sandbox' });
    }
    const sent = await webhooks.verify(delivery('otp.sent').body, delivery('otp.sent').headers, secret);
    if (sent.type !== 'otp.sent') throw new Error(sent.type);
    expect(sent.data).toMatchObject({ otp_id: otpId, status: expect.any(String) });
    expect(sent.data.message).toMatchObject({ otp_id: otpId, kind: 'otp' });

    const verified: WebhookEvent = await webhooks.verify(
      delivery('otp.verified').body,
      delivery('otp.verified').headers,
      secret,
    );
    expect(verified).toMatchObject({ type: 'otp.verified', data: { otp_id: otpId, status: 'verified' } });
    expect(JSON.stringify(verified)).not.toContain(SANDBOX_CODE);
  });

  it('takes the body as bytes and the headers as a Headers object', async () => {
    const { body, headers } = delivery('otp.verified');
    const event = await webhooks.verify(Buffer.from(body), new Headers(headers), secret);
    expect(event.type).toBe('otp.verified');
    const bytes = new TextEncoder().encode(body);
    expect((await webhooks.verify(bytes.buffer, headers, secret)).type).toBe('otp.verified');
  });

  it('rejects a tampered body, id or timestamp', async () => {
    const { body, headers } = delivery('otp.verified');
    await rejection(webhooks.verify(body.replace('"verified"', '"pending"'), headers, secret));
    await rejection(webhooks.verify(`${body} `, headers, secret));
    await rejection(webhooks.verify(body, { ...headers, 'webhook-id': 'evt_forged' }, secret));
    const earlier = String(Number(headers['webhook-timestamp']) - 1);
    await rejection(webhooks.verify(body, { ...headers, 'webhook-timestamp': earlier }, secret));
    await rejection(webhooks.verify(body, { ...headers, 'webhook-timestamp': 'soon' }, secret));
  });

  it('rejects the wrong secret, a missing signature and a parsed body', async () => {
    const { body, headers } = delivery('otp.verified');
    const other = await otpd.admin<{ secret: string }>('POST', `/apps/${appId}/webhooks`, {
      url: receiver.url('/other'),
      enabled: false,
    });
    expect((await rejection(webhooks.verify(body, headers, other.secret))).message).toMatch(
      /No signature matches/,
    );
    await rejection(webhooks.verify(body, { ...headers, 'webhook-signature': 'v1,AAAA' }, secret));
    await rejection(webhooks.verify(body, { ...headers, 'webhook-signature': 'v2,whatever' }, secret));
    const bare = { 'content-type': 'application/json' };
    expect((await rejection(webhooks.verify(body, bare, secret))).message).toMatch(/no otpd signature/);
    await rejection(webhooks.verify(JSON.parse(body), headers, secret));
    await rejection(webhooks.verify(body, headers, []));
    await expect(new Client({ apiKey: 'otpd_test_x' }).webhooks.verify(body, headers)).rejects.toBeInstanceOf(
      TypeError,
    );
  });

  it('refuses a delivery older (or newer) than the tolerance', async () => {
    const { body, headers } = delivery('otp.verified');
    const signedAt = Number(headers['webhook-timestamp']) * 1000;
    expect((await webhooks.verify(body, headers, secret, { now: signedAt + 240_000 })).type).toBe(
      'otp.verified',
    );
    const late = await rejection(webhooks.verify(body, headers, secret, { now: signedAt + 301_000 }));
    expect(late.message).toMatch(/300 s/);
    await rejection(webhooks.verify(body, headers, secret, { now: signedAt - 301_000 }));
    await rejection(webhooks.verify(body, headers, secret, { now: signedAt + 11_000, toleranceSeconds: 10 }));
  });

  it('accepts X-Otpd-Signature alone, and rejects it tampered', async () => {
    const { body, headers } = delivery('otp.delivered');
    const otpdOnly = { 'x-otpd-signature': headers['x-otpd-signature']! };
    expect((await webhooks.verify(body, otpdOnly, secret)).type).toBe('otp.delivered');
    await rejection(webhooks.verify(body.replace('otp.delivered', 'otp.verified'), otpdOnly, secret));
    const t = /t=(\d+)/.exec(otpdOnly['x-otpd-signature'])![1]!;
    const shifted = otpdOnly['x-otpd-signature'].replace(`t=${t}`, `t=${Number(t) + 1}`);
    await rejection(webhooks.verify(body, { 'x-otpd-signature': shifted }, secret));
    await rejection(webhooks.verify(body, { 'x-otpd-signature': `t=${t},v1=zz` }, secret));
  });

  it('during a rotation, either secret verifies the new deliveries', async () => {
    const rotated = await otpd.admin<{ secret: string }>(
      'POST',
      `/apps/${appId}/webhooks/${endpointId}/rotate`,
      {
        overlap_seconds: 3600,
      },
    );
    const before = receiver.received.length;
    const sent = await client.otp.send({ phone: '+9779845000002' });
    const received = await until('a delivery signed by both secrets', () =>
      receiver.received.slice(before).find((r) => r.body.includes(sent.otp_id)),
    );
    expect(received.headers['webhook-signature']!.split(' ')).toHaveLength(2);
    for (const key of [secret, rotated.secret, [rotated.secret, secret]]) {
      expect((await webhooks.verify(received.body, received.headers, key)).data).toMatchObject({
        otp_id: sent.otp_id,
      });
    }
    expect(
      (
        await webhooks.verify(
          received.body,
          { 'x-otpd-signature': received.headers['x-otpd-signature']! },
          secret,
        )
      ).id,
    ).toBe(received.headers['webhook-id']);
  });

  it('agrees with the standardwebhooks library', async () => {
    const wh = new Webhook(secret);
    const body = JSON.stringify({
      id: 'evt_x',
      type: 'otp.expired',
      created_at: new Date().toISOString(),
      app: {},
      data: {},
    });
    const at = new Date();
    const headers = {
      'webhook-id': 'evt_x',
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': wh.sign('evt_x', at, body),
    };
    expect((await webhooks.verify(body, headers, secret)).type).toBe('otp.expired');
    expect(() => wh.verify(body, headers)).not.toThrow();
  });
});
