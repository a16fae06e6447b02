import { createServer } from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { Otpd as Client, OtpdError, OtpdNetworkError } from '../src/index.js';
import { FlakyProxy, type Otpd, startOtpd } from './support/otpd.js';

/**
 * Retries through a proxy that loses answers after otpd did the work: the
 * retry of a POST carries the same Idempotency-Key, so otpd replays the
 * first answer instead of doing it again.
 */

const SANDBOX_CODE = '123456';
let counter = 0;
const phone = () => `+9779842${String(++counter).padStart(6, '0')}`;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

const envelope = (code: string, message: string) =>
  JSON.stringify({ success: false, error: { code, message }, request_id: 'req_fromproxy' });

async function failure(call: Promise<unknown>): Promise<unknown> {
  return call.then(
    () => expect.unreachable('the call should have failed'),
    (e: unknown) => e,
  );
}

describe('retries', () => {
  let otpd: Otpd;
  let proxy: FlakyProxy;
  let key: string;
  /** Straight to otpd: the truth about what exists. */
  let direct: Client;
  /** Through the proxy. */
  let client: Client;

  beforeAll(async () => {
    otpd = await startOtpd();
    key = (await otpd.tenant()).key;
    proxy = await FlakyProxy.start(otpd.url);
    direct = new Client({ apiKey: key, baseUrl: otpd.url });
    client = new Client({ apiKey: key, baseUrl: proxy.url, timeoutMs: 2_000 });
  });

  /** The proxied requests from now on. */
  const since = () => {
    const start = proxy.requests.length;
    return () => proxy.requests.slice(start);
  };

  it('a send whose answer is lost is retried with the same Idempotency-Key and creates one OTP', async () => {
    const to = phone();
    const requests = since();
    proxy.next('drop');
    const sent = await client.otp.send({ phone: to });

    const sends = requests().filter((r) => r.url === '/v1/otp/send');
    expect(sends).toHaveLength(2);
    expect(sends[0]!.headers['idempotency-key']).toMatch(UUID);
    expect(sends[1]!.headers['idempotency-key']).toBe(sends[0]!.headers['idempotency-key']);
    expect(sends[1]!.body).toBe(sends[0]!.body);
    const otps = (await direct.otp.list({ phone: to })).items;
    expect(otps.map((o) => o.otp_id)).toEqual([sent.otp_id]);
  });

  it('each call gets its own key', async () => {
    const requests = since();
    await client.otp.send({ phone: phone() });
    await client.otp.send({ phone: phone() });
    const [a, b] = requests().map((r) => r.headers['idempotency-key']);
    expect(a).toMatch(UUID);
    expect(b).toMatch(UUID);
    expect(a).not.toBe(b);
  });

  it('an answer that never comes times out, and the retry replays it', async () => {
    const to = phone();
    const requests = since();
    proxy.next('stall');
    const sent = await new Client({ apiKey: key, baseUrl: proxy.url, timeoutMs: 500 }).otp.send({
      phone: to,
    });
    expect(requests()).toHaveLength(2);
    expect((await direct.otp.list({ phone: to })).items.map((o) => o.otp_id)).toEqual([sent.otp_id]);
  });

  it('a lost verify answer is replayed: the retry does not spend a second attempt', async () => {
    const sent = await direct.otp.send({ phone: phone() });
    proxy.next('drop');
    const error = await failure(client.otp.verify({ otp_id: sent.otp_id, code: '000000' }));
    expect(error).toBeInstanceOf(OtpdError);
    expect(error).toMatchObject({ code: 'INVALID_OTP', attempts_remaining: 2 });
    expect((await direct.otp.attempts(sent.otp_id)).attempts).toBe(1);
    expect(await client.otp.verify({ otp_id: sent.otp_id, code: SANDBOX_CODE })).toMatchObject({
      verified: true,
    });
  });

  it('a GET is retried after a cut connection, without an Idempotency-Key', async () => {
    const requests = since();
    proxy.next('refuse');
    const page = await client.otp.list({ limit: 1 });
    expect(page.items).toHaveLength(1);
    expect(requests()).toHaveLength(2);
    expect(requests().every((r) => r.headers['idempotency-key'] === undefined)).toBe(true);
  });

  it('a 503 is retried (after its Retry-After) with the same key', async () => {
    const requests = since();
    proxy.next({
      status: 503,
      headers: { 'content-type': 'application/json', 'retry-after': '0' },
      body: envelope('SERVICE_UNAVAILABLE', 'The database is not reachable.'),
    });
    const sent = await client.otp.send({ phone: phone() });
    expect(sent.status).toBe('pending');
    const [first, second] = requests();
    expect(second!.headers['idempotency-key']).toBe(first!.headers['idempotency-key']);
  });

  it('409 IDEMPOTENCY_CONFLICT (the first attempt still running) is retried', async () => {
    const requests = since();
    proxy.next({
      status: 409,
      headers: { 'content-type': 'application/json' },
      body: envelope('IDEMPOTENCY_CONFLICT', 'A request with this Idempotency-Key is still in progress.'),
    });
    await client.otp.send({ phone: phone() });
    expect(requests()).toHaveLength(2);
  });

  it('5xx on every attempt throws the last one as OtpdError after maxRetries', async () => {
    const requests = since();
    const page = { status: 502, headers: { 'content-type': 'text/html' }, body: '<h1>Bad Gateway</h1>' };
    proxy.next(page, page);
    const error = await failure(new Client({ apiKey: key, baseUrl: proxy.url, maxRetries: 1 }).otp.list());
    expect(error).toBeInstanceOf(OtpdError);
    expect(error).toMatchObject({ code: 'UNEXPECTED_RESPONSE', status: 502, requestId: null });
    expect(requests()).toHaveLength(2);
  });

  it('an API error (4xx) is not retried', async () => {
    const requests = since();
    const error = await failure(client.otp.get('otp_doesnotexist'));
    expect(error).toMatchObject({ code: 'OTP_NOT_FOUND' });
    expect(requests()).toHaveLength(1);
  });

  it('no answer on any attempt throws OtpdNetworkError with the attempts and the key', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as { port: number }).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));

    const unreachable = new Client({ apiKey: key, baseUrl: `http://127.0.0.1:${port}`, maxRetries: 1 });
    const error = await failure(unreachable.otp.send({ phone: phone() }, { idempotencyKey: 'my-key-1' }));
    expect(error).toBeInstanceOf(OtpdNetworkError);
    expect(error).toMatchObject({
      name: 'OtpdNetworkError',
      attempts: 2,
      timedOut: false,
      idempotencyKey: 'my-key-1',
    });
    expect((error as Error).cause).toBeDefined();

    proxy.next('stall', 'stall');
    const slow = new Client({ apiKey: key, baseUrl: proxy.url, timeoutMs: 300, maxRetries: 1 });
    expect(await failure(slow.otp.list())).toMatchObject({
      name: 'OtpdNetworkError',
      timedOut: true,
      attempts: 2,
    });
  });

  it('maxRetries 0 per call: the first failure is thrown', async () => {
    const requests = since();
    proxy.next('refuse');
    expect(await failure(client.otp.list({}, { maxRetries: 0 }))).toBeInstanceOf(OtpdNetworkError);
    expect(requests()).toHaveLength(1);
  });

  describe('429', () => {
    let limited: string;
    beforeAll(async () => {
      limited = (await otpd.tenant({ limits: { phone_hour: { max: 1, window: 2 } } })).key;
    });

    /** Sends to a phone and cancels, so the next send meets only the limit. */
    const spendTheLimit = async (client: Client, to: string) => {
      const sent = await client.otp.send({ phone: to });
      await client.otp.cancel(sent.otp_id);
    };

    it('is thrown at once by default, with scope and retry_after', async () => {
      const limitedClient = new Client({ apiKey: limited, baseUrl: otpd.url });
      const to = phone();
      await spendTheLimit(limitedClient, to);
      const error = await failure(limitedClient.otp.send({ phone: to }));
      expect(error).toMatchObject({ code: 'RATE_LIMIT_EXCEEDED', status: 429, scope: 'phone_hour' });
      expect((error as OtpdError).retry_after).toBeGreaterThanOrEqual(1);
      expect((error as OtpdError).retry_after).toBeLessThanOrEqual(2);
    });

    it('with retryRateLimited, waits retry_after and sends', async () => {
      const patient = new Client({ apiKey: limited, baseUrl: otpd.url, retryRateLimited: true });
      const to = phone();
      await spendTheLimit(patient, to);
      const started = Date.now();
      const sent = await patient.otp.send({ phone: to });
      expect(sent.status).toBe('pending');
      expect(Date.now() - started).toBeGreaterThanOrEqual(500);
    });

    it('with retryRateLimited, a retry_after over maxRetryAfterSeconds is thrown at once', async () => {
      const impatient = new Client({
        apiKey: limited,
        baseUrl: otpd.url,
        retryRateLimited: true,
        maxRetryAfterSeconds: 0,
      });
      const to = phone();
      await spendTheLimit(impatient, to);
      const started = Date.now();
      expect(await failure(impatient.otp.send({ phone: to }))).toMatchObject({ code: 'RATE_LIMIT_EXCEEDED' });
      expect(Date.now() - started).toBeLessThan(500);
    });
  });
});
