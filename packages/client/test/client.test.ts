import { beforeAll, describe, expect, it } from 'vitest';
import { Otpd as Client, OtpdError } from '../src/index.js';
import { type Otpd, startOtpd } from './support/otpd.js';

/**
 * Every `/v1` method of the SDK against a real otpd process (the built CLI
 * on a fresh SQLite database; one backend is enough: the SDK only speaks
 * HTTP, and the API's own suites run on both).
 */

const SANDBOX_CODE = '123456';
let counter = 0;
const phone = () => `+9779841${String(++counter).padStart(6, '0')}`;

/** Runs `call`, which must fail with an OtpdError; answers it. */
async function apiError(call: Promise<unknown>): Promise<OtpdError> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(OtpdError);
  return error as OtpdError;
}

describe('@otpd/client against a real otpd process', () => {
  let otpd: Otpd;
  let client: Client;
  let accountId: string;

  beforeAll(async () => {
    otpd = await startOtpd();
    const tenant = await otpd.tenant({ resend_cooldown: 0 });
    accountId = tenant.accountId;
    client = new Client({ apiKey: tenant.key, baseUrl: `${otpd.url}/` });
  });

  describe('otp', () => {
    it('sends, reads, lists and verifies a code', async () => {
      const to = phone();
      const sent = await client.otp.send({ phone: to, reference: 'login-1', metadata: { user_id: 'u_1' } });
      expect(sent).toMatchObject({ phone: to, status: 'pending', channel: 'sms', attempts_remaining: 3 });
      expect(sent.otp_id).toMatch(/^otp_/);

      const detail = await client.otp.get(sent.otp_id);
      expect(detail).toMatchObject({
        otp_id: sent.otp_id,
        reference: 'login-1',
        metadata: { user_id: 'u_1' },
      });
      expect(detail.deliveries.length).toBeGreaterThan(0);

      const page = await client.otp.list({ phone: to });
      expect(page.items.map((o) => o.otp_id)).toEqual([sent.otp_id]);
      expect(page.next_cursor).toBeNull();

      const verified = await client.otp.verify({ otp_id: sent.otp_id, code: SANDBOX_CODE });
      expect(verified).toMatchObject({
        verified: true,
        otp_id: sent.otp_id,
        status: 'verified',
        reference: 'login-1',
      });
      expect((await client.otp.get(sent.otp_id)).status).toBe('verified');
    });

    it('verifies by phone', async () => {
      const to = phone();
      const sent = await client.otp.send({ phone: to });
      const verified = await client.otp.verify({ phone: to, code: SANDBOX_CODE });
      expect(verified.otp_id).toBe(sent.otp_id);
    });

    it('a wrong code throws INVALID_OTP with attempts_remaining; attempts lists each try', async () => {
      const sent = await client.otp.send({ phone: phone() });
      const error = await apiError(client.otp.verify({ otp_id: sent.otp_id, code: '000000' }));
      expect(error).toMatchObject({
        code: 'INVALID_OTP',
        status: 400,
        attempts_remaining: 2,
        name: 'OtpdError',
      });
      expect(error.message).toBe('The code is incorrect.');
      expect(error.requestId).toMatch(/^req_/);
      expect(error.body).toMatchObject({ code: 'INVALID_OTP', attempts_remaining: 2 });

      await client.otp.verify({ otp_id: sent.otp_id, code: SANDBOX_CODE });
      const attempts = await client.otp.attempts(sent.otp_id);
      expect(attempts).toMatchObject({ otp_id: sent.otp_id, attempts: 2, max_attempts: 3 });
      expect(attempts.items.map((a) => a.outcome).sort()).toEqual(['correct', 'incorrect']);

      const again = await apiError(client.otp.verify({ otp_id: sent.otp_id, code: SANDBOX_CODE }));
      expect(again).toMatchObject({ code: 'OTP_ALREADY_VERIFIED', status: 409 });
    });

    it('the last wrong code ends the OTP: MAX_ATTEMPTS_EXCEEDED', async () => {
      const sent = await client.otp.send({ phone: phone(), max_attempts: 1 });
      expect(await apiError(client.otp.verify({ otp_id: sent.otp_id, code: '999999' }))).toMatchObject({
        code: 'INVALID_OTP',
        attempts_remaining: 0,
      });
      expect(await apiError(client.otp.verify({ otp_id: sent.otp_id, code: SANDBOX_CODE }))).toMatchObject({
        code: 'MAX_ATTEMPTS_EXCEEDED',
        status: 400,
      });
    });

    it('resends, then cancels; a canceled OTP answers OTP_CANCELED', async () => {
      const sent = await client.otp.send({ phone: phone() });
      const resent = await client.otp.resend({ otp_id: sent.otp_id });
      expect(resent).toMatchObject({ otp_id: sent.otp_id, send_count: 2 });

      const canceled = await client.otp.cancel(sent.otp_id);
      expect(canceled).toMatchObject({ otp_id: sent.otp_id, status: 'canceled' });
      expect(await client.otp.cancel(sent.otp_id)).toMatchObject({ status: 'canceled' });
      expect(await apiError(client.otp.verify({ otp_id: sent.otp_id, code: SANDBOX_CODE }))).toMatchObject({
        code: 'OTP_CANCELED',
        otp_id: sent.otp_id,
      });
    });

    it('a second send to the phone throws ACTIVE_OTP_EXISTS with otp_id, retry_after, resend_available_at', async () => {
      const to = phone();
      const first = await client.otp.send({ phone: to });
      const error = await apiError(client.otp.send({ phone: to }));
      expect(error).toMatchObject({ code: 'ACTIVE_OTP_EXISTS', status: 409, otp_id: first.otp_id });
      expect(error.retry_after).toBeGreaterThan(0);
      expect(typeof error.resend_available_at).toBe('string');
    });

    it('a bad field throws INVALID_REQUEST naming the field; a bad number INVALID_PHONE_FORMAT', async () => {
      expect(await apiError(client.otp.send({ phone: phone(), expiry: 5 }))).toMatchObject({
        code: 'INVALID_REQUEST',
        status: 400,
        field: 'expiry',
      });
      expect(await apiError(client.otp.send({ phone: '+1234' }))).toMatchObject({
        code: 'INVALID_PHONE_FORMAT',
        status: 400,
      });
    });

    it('an unknown OTP throws OTP_NOT_FOUND; ids are escaped into the path', async () => {
      expect(await apiError(client.otp.get('otp_doesnotexist'))).toMatchObject({
        code: 'OTP_NOT_FOUND',
        status: 404,
      });
      expect(await apiError(client.otp.get('../balance'))).toMatchObject({ status: 404 });
    });

    it('iterates every page of a list', async () => {
      const reference = `batch-${Date.now()}`;
      const ids = [];
      for (let i = 0; i < 5; i++) ids.push((await client.otp.send({ phone: phone(), reference })).otp_id);
      const seen = [];
      for await (const otp of client.otp.iterate({ reference, limit: 2 })) seen.push(otp.otp_id);
      expect(seen.sort()).toEqual(ids.sort());
    });
  });

  describe('messages, logs and limits', () => {
    it("reads an OTP's message, the activity log and the limits", async () => {
      const to = phone();
      const sent = await client.otp.send({ phone: to });
      const [delivery] = (await client.otp.get(sent.otp_id)).deliveries;
      const message = await client.messages.get(delivery!.message_id);
      expect(message).toMatchObject({
        message_id: delivery!.message_id,
        otp_id: sent.otp_id,
        kind: 'otp',
        phone: to,
      });
      expect(await apiError(client.messages.get('msg_doesnotexist'))).toMatchObject({ status: 404 });

      const logs = await client.logs.list({ otp_id: sent.otp_id });
      expect(logs.items.map((e) => e.type)).toContain('otp.created');
      const all = [];
      for await (const entry of client.logs.iterate({ otp_id: sent.otp_id, limit: 1 })) all.push(entry.id);
      expect(all).toEqual(logs.items.map((e) => e.id));

      const limits = await client.rateLimits.get({ phone: to });
      const phoneHour = limits.limits.find((l) => l.scope === 'phone_hour');
      expect(phoneHour).toMatchObject({ max: 5, window: 3600, remaining: 4 });
      expect(limits.resend_cooldown).toBe(0);
    });
  });

  describe('templates and transactional SMS', () => {
    it('submits, lists, reads, sends (once approved) and deletes a template', async () => {
      const template = await client.templates.create({
        name: 'Order shipped',
        body: 'Your order {{order_id}} has shipped.',
        use_case: 'Shipping notices',
      });
      expect(template).toMatchObject({ status: 'pending', variables: ['order_id'], account_id: accountId });
      expect((await client.templates.list({ status: 'pending' })).items.map((t) => t.template_id)).toContain(
        template.template_id,
      );
      const iterated = [];
      for await (const t of client.templates.iterate({ limit: 1 })) iterated.push(t.template_id);
      expect(iterated).toContain(template.template_id);

      expect(
        await apiError(client.sms.send({ phone: phone(), template_id: template.template_id })),
      ).toMatchObject({ code: 'TEMPLATE_NOT_FOUND', field: 'template_id' });
      await otpd.admin('POST', `/templates/${template.template_id}/approve`);
      expect(await client.templates.get(template.template_id)).toMatchObject({ status: 'approved' });

      expect(
        await apiError(client.sms.send({ phone: phone(), template_id: template.template_id })),
      ).toMatchObject({ code: 'MISSING_VARIABLE', field: 'variables.order_id' });
      const to = phone();
      const sms = await client.sms.send({
        phone: to,
        template_id: template.template_id,
        variables: { order_id: 'A-1' },
      });
      expect(sms).toMatchObject({ status: 'queued', phone: to, template_id: template.template_id });
      expect(await client.messages.get(sms.message_id)).toMatchObject({
        kind: 'sms',
        otp_id: null,
        phone: to,
      });

      expect(await client.templates.delete(template.template_id)).toMatchObject({ status: 'deleted' });
      expect(await client.templates.delete(template.template_id)).toMatchObject({ status: 'deleted' });
      expect(await apiError(client.templates.get('tpl_doesnotexist'))).toMatchObject({
        code: 'TEMPLATE_NOT_FOUND',
        status: 404,
      });
    });
  });

  describe('wallet and reports', () => {
    it('reads the balance, the ledger, the prices and the usage report', async () => {
      await otpd.admin('POST', `/accounts/${accountId}/topups`, {
        amount: 5_000_000,
        reference: 'sdk-topup-1',
      });
      const balance = await client.balance.get();
      expect(balance).toMatchObject({
        account_id: accountId,
        balance: expect.any(Number),
        currency: expect.any(String),
      });
      expect(balance.balance).toBeGreaterThanOrEqual(5_000_000);

      const ledger = await client.ledger.list({ type: 'topup' });
      expect(ledger.items[0]).toMatchObject({ type: 'topup', amount: 5_000_000, reference: 'sdk-topup-1' });
      const entries = [];
      for await (const entry of client.ledger.iterate({ limit: 1 })) entries.push(entry.id);
      expect(entries).toContain(ledger.items[0]!.id);

      const prices = await client.prices.list();
      expect(prices.currency).toBe(balance.currency);
      expect(Array.isArray(prices.items)).toBe(true);

      const report = await client.reports.usage({ group_by: 'channel' });
      expect(report.group_by).toBe('channel');
      expect(report.totals.sent).toBeGreaterThan(0);
      expect(report.items.find((i) => i.key === 'sms')?.sent).toBe(report.totals.sent);
    });
  });

  describe('auth, idempotency keys and cancellation', () => {
    it('a wrong key throws INVALID_API_KEY', async () => {
      const stranger = new Client({ apiKey: 'otpd_test_wrong', baseUrl: otpd.url });
      expect(await apiError(stranger.otp.list())).toMatchObject({ code: 'INVALID_API_KEY', status: 401 });
    });

    it("another app's OTP is OTP_NOT_FOUND", async () => {
      const other = new Client({ apiKey: (await otpd.tenant()).key, baseUrl: otpd.url });
      const sent = await client.otp.send({ phone: phone() });
      expect(await apiError(other.otp.get(sent.otp_id))).toMatchObject({ code: 'OTP_NOT_FOUND' });
    });

    it('a caller-chosen Idempotency-Key replays the first answer; with another body it is IDEMPOTENCY_KEY_REUSED', async () => {
      const key = `order-${Date.now()}`;
      const to = phone();
      const first = await client.otp.send({ phone: to }, { idempotencyKey: key });
      const replay = await client.otp.send({ phone: to }, { idempotencyKey: key });
      expect(replay).toEqual(first);
      expect(await apiError(client.otp.send({ phone: phone() }, { idempotencyKey: key }))).toMatchObject({
        code: 'IDEMPOTENCY_KEY_REUSED',
        status: 422,
      });
    });

    it('parallel sends with one key create one OTP', async () => {
      const key = `parallel-${Date.now()}`;
      const to = phone();
      const results = await Promise.all(
        Array.from({ length: 5 }, () => client.otp.send({ phone: to }, { idempotencyKey: key })),
      );
      expect(new Set(results.map((r) => r.otp_id)).size).toBe(1);
      expect((await client.otp.list({ phone: to })).items).toHaveLength(1);
    });

    it('an aborted call rejects with the abort reason', async () => {
      const controller = new AbortController();
      controller.abort();
      await expect(client.otp.list({}, { signal: controller.signal })).rejects.toMatchObject({
        name: 'AbortError',
      });
    });

    it('refuses to start without a key', () => {
      expect(() => new Client({ apiKey: '' })).toThrow(TypeError);
    });
  });
});
