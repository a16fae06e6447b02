import { beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness, parallel, tally } from '../harness.js';

/**
 * The guarantees that must hold when requests arrive together: each race is
 * fired with Promise.all through one in-process server (on PostgreSQL the
 * requests run on separate pooled connections; test/cluster runs them across
 * two processes).
 */
let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});

const phone = (n: number) => `+9779842${String(n).padStart(6, '0')}`;

async function otpRow(id: string) {
  return h.ctx.store.db.selectFrom('otps').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
}

describe('races, fired in parallel', () => {
  it('50 wrong guesses with max_attempts 3: exactly 3 counted, then even the right code is refused', async () => {
    const { key } = await h.tenant({ max_attempts: 3 });
    const sent = await h.call('POST', '/v1/otp/send', { key, body: { phone: phone(1) } });
    const otpId = sent.body.data.otp_id as string;

    // Half by otp_id, half by phone: both paths share the guarded increment.
    const results = await parallel(50, (i) =>
      h.call('POST', '/v1/otp/verify', {
        key,
        body: i % 2 === 0 ? { otp_id: otpId, code: '000000' } : { phone: phone(1), code: '000000' },
      }),
    );
    expect(tally(results)).toEqual({ '400 INVALID_OTP': 3, '400 MAX_ATTEMPTS_EXCEEDED': 47 });
    const remaining = results
      .filter((r) => r.body.error.code === 'INVALID_OTP')
      .map((r) => r.body.error.attempts_remaining);
    expect(remaining.sort()).toEqual([0, 1, 2]);

    const row = await otpRow(otpId);
    expect(row).toMatchObject({ attempts: 3, status: 'max_attempts', code_ciphertext: null });
    const attempts = await h.call('GET', `/v1/otp/${otpId}/attempts`, { key });
    expect(attempts.body.data.items.map((a: { outcome: string }) => a.outcome)).toEqual([
      'incorrect',
      'incorrect',
      'incorrect',
    ]);

    const right = await h.call('POST', '/v1/otp/verify', { key, body: { otp_id: otpId, code: '123456' } });
    expect(right.status).toBe(400);
    expect(right.body.error).toMatchObject({ code: 'MAX_ATTEMPTS_EXCEEDED', attempts_remaining: 0 });
    expect((await otpRow(otpId)).attempts).toBe(3);
  });

  it('20 simultaneous right codes: exactly one verified', async () => {
    const { key } = await h.tenant();
    const sent = await h.call('POST', '/v1/otp/send', { key, body: { phone: phone(2) } });
    const otpId = sent.body.data.otp_id as string;

    const results = await parallel(20, () =>
      h.call('POST', '/v1/otp/verify', { key, body: { otp_id: otpId, code: '123456' } }),
    );
    expect(tally(results)).toEqual({ '200': 1, '409 OTP_ALREADY_VERIFIED': 19 });
    const winner = results.find((r) => r.status === 200)!;
    expect(winner.body.data).toMatchObject({ verified: true, otp_id: otpId, phone: phone(2) });
    // Only the winning submission was counted: the others found it consumed.
    expect(await otpRow(otpId)).toMatchObject({ status: 'verified', attempts: 1, code_ciphertext: null });
  });

  it('20 simultaneous sends to one phone: exactly one accepted, the rest ACTIVE_OTP_EXISTS', async () => {
    const { key } = await h.tenant();
    const results = await parallel(20, () =>
      h.call('POST', '/v1/otp/send', { key, body: { phone: phone(3) } }),
    );
    expect(tally(results)).toEqual({ '201': 1, '409 ACTIVE_OTP_EXISTS': 19 });
    const otpId = results.find((r) => r.status === 201)!.body.data.otp_id;
    for (const r of results.filter((x) => x.status === 409)) {
      expect(r.body.error).toMatchObject({ otp_id: otpId, retry_after: 300 });
    }
    const list = await h.call('GET', `/v1/otp?phone=${encodeURIComponent(phone(3))}`, { key });
    expect(list.body.data.items.map((o: { otp_id: string }) => o.otp_id)).toEqual([otpId]);
    // The refused sends charged nothing.
    const limits = await h.call('GET', `/v1/rate-limits?phone=${encodeURIComponent(phone(3))}`, { key });
    expect(
      Object.fromEntries(
        limits.body.data.limits.map((l: { scope: string; remaining: number }) => [l.scope, l.remaining]),
      ),
    ).toEqual({
      phone_hour: 4,
      phone_day: 9,
      key_minute: 99,
      key_day: 9999,
    });
    await h.deliver();
    expect(await h.inbox(phone(3))).toHaveLength(1);
  });

  it('20 simultaneous sends to distinct phones with key_minute 5: exactly 5 accepted', async () => {
    const { key } = await h.tenant({ limits: { key_minute: { max: 5, window: 60 } } });
    const phones = Array.from({ length: 20 }, (_, i) => phone(100 + i));
    const results = await parallel(20, (i) =>
      h.call('POST', '/v1/otp/send', { key, body: { phone: phones[i] } }),
    );
    expect(tally(results)).toEqual({ '201': 5, '429 RATE_LIMIT_EXCEEDED': 15 });
    for (const r of results.filter((x) => x.status === 429)) {
      expect(r.body.error).toMatchObject({ scope: 'key_minute', retry_after: 60 });
      expect(r.headers['retry-after']).toBe('60');
    }
    const list = await h.call('GET', '/v1/otp?limit=100', { key });
    expect(list.body.data.items).toHaveLength(5);
    // Only the accepted phones were charged.
    const accepted = new Set(results.filter((r) => r.status === 201).map((r) => r.body.data.phone));
    for (const p of phones) {
      const limits = await h.call('GET', `/v1/rate-limits?phone=${encodeURIComponent(p)}`, { key });
      const phoneHour = limits.body.data.limits.find((l: { scope: string }) => l.scope === 'phone_hour');
      expect(phoneHour.remaining, p).toBe(accepted.has(p) ? 4 : 5);
    }
  });

  it('parallel resends after the cooldown: exactly one accepted', async () => {
    const { key } = await h.tenant({ resend_cooldown: 30 });
    const sent = await h.call('POST', '/v1/otp/send', { key, body: { phone: phone(4) } });
    const otpId = sent.body.data.otp_id as string;
    h.clock.advance(30);

    const results = await parallel(20, () =>
      h.call('POST', '/v1/otp/resend', { key, body: { otp_id: otpId } }),
    );
    expect(tally(results)).toEqual({ '200': 1, '429 RATE_LIMIT_EXCEEDED': 19 });
    for (const r of results.filter((x) => x.status === 429)) {
      expect(r.body.error).toMatchObject({ scope: 'resend_cooldown', retry_after: 30 });
    }
    expect((await otpRow(otpId)).send_count).toBe(2);
    const limits = await h.call('GET', `/v1/rate-limits?phone=${encodeURIComponent(phone(4))}`, { key });
    expect(limits.body.data.limits.find((l: { scope: string }) => l.scope === 'phone_hour').remaining).toBe(
      3,
    );
    await h.deliver();
    expect(await h.inbox(phone(4))).toHaveLength(2);
  });

  it('10 parallel key creations: never more than 3 active keys', async () => {
    const account = await h.admin('POST', '/admin/v1/accounts', { name: 'Keys' });
    const app = await h.admin('POST', '/admin/v1/apps', {
      account_id: account.body.data.id,
      name: 'Keys',
      environment: 'sandbox',
    });
    const appId = app.body.data.id as string;

    const results = await parallel(10, () => h.admin('POST', `/admin/v1/apps/${appId}/keys`));
    expect(tally(results)).toEqual({ '201': 3, '409 API_KEY_LIMIT_REACHED': 7 });
    const keys = await h.admin('GET', `/admin/v1/apps/${appId}/keys`);
    expect(
      keys.body.data.items.filter((k: { revoked_at: string | null }) => k.revoked_at === null),
    ).toHaveLength(3);

    // Revoking one frees one place, once.
    const revoked = await h.admin('DELETE', `/admin/v1/keys/${keys.body.data.items[0].id}`);
    expect(revoked.status).toBe(200);
    const again = await parallel(10, () => h.admin('POST', `/admin/v1/apps/${appId}/keys`));
    expect(tally(again)).toEqual({ '201': 1, '409 API_KEY_LIMIT_REACHED': 9 });
    const after = await h.admin('GET', `/admin/v1/apps/${appId}/keys`);
    expect(
      after.body.data.items.filter((k: { revoked_at: string | null }) => k.revoked_at === null),
    ).toHaveLength(3);
  });
});
