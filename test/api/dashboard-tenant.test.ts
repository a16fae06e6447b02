import { beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness } from '../harness.js';
import { type DashboardClient, signedIn } from '../support/dashboard.js';

let h: Harness;
let alice: DashboardClient;
let bob: DashboardClient;
beforeAll(async () => {
  h = await createHarness();
  alice = (await signedIn(h)).client;
  bob = (await signedIn(h)).client;
});

async function newApp(client: DashboardClient, body: Record<string, unknown> = {}) {
  const res = await client.call('POST', '/apps', { name: 'Shop', environment: 'sandbox', ...body });
  expect(res.status).toBe(201);
  return res.body.data as { id: string; account_id: string };
}

describe('apps', () => {
  it('creates, lists and changes the account’s apps, with the policy bounds enforced', async () => {
    const app = await newApp(alice, { code_length: 8, expiry: 600 });
    expect(app).toMatchObject({ name: 'Shop', environment: 'sandbox', code_length: 8, expiry: 600 });
    const list = await alice.call('GET', '/apps');
    expect(list.body.data.items.map((a: { id: string }) => a.id)).toContain(app.id);
    const changed = await alice.call('PATCH', `/apps/${app.id}`, { max_attempts: 5, name: 'Shop 2' });
    expect(changed.body.data).toMatchObject({ max_attempts: 5, name: 'Shop 2' });
    const tooMany = await alice.call('PATCH', `/apps/${app.id}`, { max_attempts: 11 });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.error).toMatchObject({ code: 'INVALID_REQUEST', field: 'max_attempts' });
    const badLength = await alice.call('PATCH', `/apps/${app.id}`, { code_type: 'numeric', code_length: 12 });
    expect(badLength.body.error).toMatchObject({ code: 'INVALID_REQUEST', field: 'code_length' });
    const account = await alice.call('GET', '/account');
    expect(account.body.data.apps).toBeGreaterThanOrEqual(1);
  });

  it('needs an approved live-mode request before an app goes live', async () => {
    const { client } = await signedIn(h);
    const app = await newApp(client);
    const refused = await client.call('PATCH', `/apps/${app.id}`, { environment: 'live' });
    expect(refused.status).toBe(403);
    expect(refused.body.error).toMatchObject({ code: 'LIVE_MODE_NOT_APPROVED', field: 'environment' });
    const direct = await client.call('POST', '/apps', { name: 'Live', environment: 'live' });
    expect(direct.body.error.code).toBe('LIVE_MODE_NOT_APPROVED');

    expect((await client.call('GET', '/live-mode')).body.data).toBeNull();
    const short = await client.call('POST', '/live-mode', { use_case: 'short', expected_volume: '1' });
    expect(short.body.error).toMatchObject({ code: 'INVALID_REQUEST', field: 'use_case' });
    const asks = await Promise.all(
      Array.from({ length: 5 }, () =>
        client.call('POST', '/live-mode', {
          use_case: 'Login codes for our shop',
          expected_volume: '2000/day',
        }),
      ),
    );
    const ids = new Set(asks.map((a) => a.body.data.id));
    expect(ids.size).toBe(1);
    const [id] = ids;
    expect(asks[0]!.body.data.status).toBe('pending');

    const pending = await h.admin('GET', '/admin/v1/live-requests?status=pending');
    expect(pending.body.data.items.map((r: { id: string }) => r.id)).toContain(id);
    const approved = await h.admin('POST', `/admin/v1/live-requests/${id}/approve`);
    expect(approved.body.data.status).toBe('approved');
    const again = await h.admin('POST', `/admin/v1/live-requests/${id}/reject`, { note: 'too late' });
    expect(again.body.data.status).toBe('approved');

    const live = await client.call('PATCH', `/apps/${app.id}`, { environment: 'live' });
    expect(live.body.data.environment).toBe('live');
    expect((await client.call('GET', '/live-mode')).body.data.status).toBe('approved');
    const other = await bob.call('PATCH', `/apps/${(await newApp(bob)).id}`, { environment: 'live' });
    expect(other.body.error.code).toBe('LIVE_MODE_NOT_APPROVED');
  });

  it('lets a rejected account ask again', async () => {
    const { client } = await signedIn(h);
    const first = await client.call('POST', '/live-mode', {
      use_case: 'Login codes for us',
      expected_volume: '10',
    });
    await h.admin('POST', `/admin/v1/live-requests/${first.body.data.id}/reject`, { note: 'Tell us more' });
    const seen = await client.call('GET', '/live-mode');
    expect(seen.body.data).toMatchObject({ status: 'rejected', review_note: 'Tell us more' });
    const second = await client.call('POST', '/live-mode', {
      use_case: 'Login codes for our 5k users',
      expected_volume: '10',
    });
    expect(second.body.data.id).not.toBe(first.body.data.id);
    expect(second.body.data.status).toBe('pending');
  });
});

describe('API keys', () => {
  it('shows a secret once, lists without it, stops at 3 and revokes at once', async () => {
    const app = await newApp(alice);
    const created = await alice.call('POST', `/apps/${app.id}/keys`);
    expect(created.status).toBe(201);
    const secret = created.body.data.secret as string;
    expect(secret).toMatch(/^otpd_test_/);
    const list = await alice.call('GET', `/apps/${app.id}/keys`);
    expect(JSON.stringify(list.body)).not.toContain(secret);
    expect(list.body.data.items[0].display).toMatch(/^otpd_test_.{4}…/);

    const more = await Promise.all([1, 2, 3].map(() => alice.call('POST', `/apps/${app.id}/keys`)));
    expect(more.filter((r) => r.status === 201)).toHaveLength(2);
    expect(more.find((r) => r.status === 409)!.body.error.code).toBe('API_KEY_LIMIT_REACHED');

    const send = () => h.call('POST', '/v1/otp/send', { key: secret, body: { phone: '+9779841000100' } });
    expect((await send()).status).toBe(201);
    const revoked = await alice.call('DELETE', `/keys/${created.body.data.id}`);
    expect(revoked.body.data.revoked_at).not.toBeNull();
    expect((await send()).body.error.code).toBe('INVALID_API_KEY');
  });
});

describe('the OTP explorer', () => {
  it('lists and explains an OTP with its timeline, never its code', async () => {
    const app = await newApp(alice, { name: 'Explorer' });
    const key = (await alice.call('POST', `/apps/${app.id}/keys`)).body.data.secret;
    const sent = await h.call('POST', '/v1/otp/send', {
      key,
      body: { phone: '+9779841000200', reference: 'order-7' },
    });
    const otpId = sent.body.data.otp_id;
    await h.deliver();
    await h.call('POST', '/v1/otp/verify', { key, body: { otp_id: otpId, code: '000000' } });
    await h.call('POST', '/v1/otp/verify', { key, body: { otp_id: otpId, code: '123456' } });

    const byPhone = await alice.call('GET', `/apps/${app.id}/otps?phone=%2B9779841000200`);
    expect(byPhone.body.data.items.map((o: { otp_id: string }) => o.otp_id)).toEqual([otpId]);
    const byStatus = await alice.call('GET', `/apps/${app.id}/otps?status=pending`);
    expect(byStatus.body.data.items).toEqual([]);
    const byReference = await alice.call('GET', `/apps/${app.id}/otps?reference=order-7`);
    expect(byReference.body.data.items).toHaveLength(1);
    const future = await alice.call(
      'GET',
      `/apps/${app.id}/otps?from=${new Date(h.clock.now() + 60_000).toISOString()}`,
    );
    expect(future.body.data.items).toEqual([]);

    const detail = await alice.call('GET', `/apps/${app.id}/otps/${otpId}`);
    expect(detail.status).toBe(200);
    const d = detail.body.data;
    expect(d).toMatchObject({ otp_id: otpId, status: 'verified', attempts: 2, delivery_status: 'delivered' });
    expect(d.attempts_log.map((a: { outcome: string }) => a.outcome)).toEqual(['incorrect', 'correct']);
    expect(d.timeline.map((e: { type: string }) => e.type)).toEqual([
      'otp.created',
      'message.sent',
      'message.delivered',
      'otp.verification_failed',
      'otp.verified',
    ]);
    expect(JSON.stringify(detail.body)).not.toMatch(/123456|code_hmac|ciphertext/);
  });
});

describe('tenant isolation', () => {
  it('answers every other account’s app, key and OTP as not found', async () => {
    const app = await newApp(alice, { name: 'Private' });
    const key = await alice.call('POST', `/apps/${app.id}/keys`);
    const sent = await h.call('POST', '/v1/otp/send', {
      key: key.body.data.secret,
      body: { phone: '+9779841000300' },
    });
    const otpId = sent.body.data.otp_id;
    const attempts = [
      await bob.call('PATCH', `/apps/${app.id}`, { name: 'Mine now' }),
      await bob.call('GET', `/apps/${app.id}/keys`),
      await bob.call('POST', `/apps/${app.id}/keys`),
      await bob.call('DELETE', `/keys/${key.body.data.id}`),
      await bob.call('GET', `/apps/${app.id}/otps`),
      await bob.call('GET', `/apps/${app.id}/otps/${otpId}`),
    ];
    for (const res of attempts) {
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('NOT_FOUND');
    }
    const bobApp = await newApp(bob);
    const crossed = await bob.call('GET', `/apps/${bobApp.id}/otps/${otpId}`);
    expect(crossed.body.error.code).toBe('OTP_NOT_FOUND');
    const bobApps = await bob.call('GET', '/apps');
    expect(bobApps.body.data.items.map((a: { id: string }) => a.id)).not.toContain(app.id);
    expect((await alice.call('GET', `/apps/${app.id}/keys`)).body.data.items[0].revoked_at).toBeNull();
  });

  it('refuses every tenant route without a session', async () => {
    const { DashboardClient } = await import('../support/dashboard.js');
    const anon = new DashboardClient(h);
    await anon.session();
    for (const [method, url] of [
      ['GET', '/apps'],
      ['GET', '/account'],
      ['POST', '/apps'],
      ['GET', '/live-mode'],
    ] as const) {
      const res = await anon.call(
        method,
        url,
        method === 'POST' ? { name: 'x', environment: 'sandbox' } : undefined,
      );
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('SESSION_REQUIRED');
    }
  });
});
