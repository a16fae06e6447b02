import { beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, createHarness, type Harness } from '../harness.js';
import { type DashboardClient, signedIn } from '../support/dashboard.js';

let h: Harness;
let operator: DashboardClient;
let tenant: DashboardClient;
let accountId: string;
let appId: string;
beforeAll(async () => {
  h = await createHarness();
  operator = (await signedIn(h, { operatorToken: ADMIN_TOKEN })).client;
  const t = await signedIn(h);
  tenant = t.client;
  accountId = t.accountId!;
  appId = (await tenant.call('POST', '/apps', { name: 'Shop', environment: 'sandbox' })).body.data.id;
});

describe('the operator console', () => {
  it('is for operators only', async () => {
    for (const url of [
      '/console/overview',
      '/console/accounts',
      '/console/templates',
      '/console/live-requests',
    ]) {
      const res = await tenant.call('GET', url);
      expect(res.status, url).toBe(403);
      expect(res.body.error.code).toBe('FORBIDDEN');
    }
    const topup = await tenant.call('POST', `/console/accounts/${accountId}/topups`, {
      amount: 1_000_000,
      reference: 'self-service',
    });
    expect(topup.body.error.code).toBe('FORBIDDEN');
    expect((await operator.call('GET', '/apps')).body.error.code).toBe('FORBIDDEN');
  });

  it('shows what waits, the outbox and the last hour', async () => {
    const key = (await tenant.call('POST', `/apps/${appId}/keys`)).body.data.secret;
    await h.call('POST', '/v1/otp/send', { key, body: { phone: '+9779841700001' } });
    const queued = (await operator.call('GET', '/console/overview')).body.data;
    expect(queued.outbox_depth).toBeGreaterThanOrEqual(1);
    await h.deliver();
    const overview = await operator.call('GET', '/console/overview');
    expect(overview.status).toBe(200);
    expect(overview.body.data).toMatchObject({
      accounts: expect.any(Number),
      outbox_depth: 0,
      last_hour: { messages: expect.any(Number), error_rate: 0 },
      providers: expect.arrayContaining([expect.objectContaining({ name: 'inbox', ok: true })]),
    });
    expect(overview.body.data.last_hour.by_status.delivered).toBeGreaterThanOrEqual(1);
  });

  it('reviews templates: approve one, reject another with a reason the tenant sees', async () => {
    const submit = (name: string) =>
      tenant.call('POST', '/templates', {
        app_id: appId,
        name,
        body: 'Your order {{order_id}} has shipped.',
        use_case: 'Shipping notices',
      });
    const first = (await submit('Shipped')).body.data;
    const second = (await submit('Shipped again')).body.data;
    expect(first.status).toBe('pending');
    const before = (await operator.call('GET', '/console/overview')).body.data.pending_templates;
    expect(before).toBeGreaterThanOrEqual(2);

    const pending = await operator.call('GET', '/console/templates?status=pending');
    const ids = pending.body.data.items.map((t: { id: string }) => t.id);
    expect(ids).toEqual(expect.arrayContaining([first.template_id, second.template_id]));

    const approved = await operator.call('POST', `/console/templates/${first.template_id}/approve`);
    expect(approved.body.data.status).toBe('approved');
    const noReason = await operator.call('POST', `/console/templates/${second.template_id}/reject`, {});
    expect(noReason.body.error).toMatchObject({ code: 'INVALID_REQUEST', field: 'reason' });
    await operator.call('POST', `/console/templates/${second.template_id}/reject`, { reason: 'Too vague' });
    const twice = await operator.call('POST', `/console/templates/${second.template_id}/approve`);
    expect(twice.status).toBe(409);
    expect(twice.body.error.code).toBe('TEMPLATE_NOT_PENDING');

    const mine = (await tenant.call('GET', '/templates')).body.data.items;
    expect(mine.find((t: { template_id: string }) => t.template_id === first.template_id).status).toBe(
      'approved',
    );
    expect(mine.find((t: { template_id: string }) => t.template_id === second.template_id)).toMatchObject({
      status: 'rejected',
      rejection_reason: 'Too vague',
    });
  });

  it('tops up an account once per reference, and the tenant sees the balance and the ledger', async () => {
    const accounts = await operator.call('GET', '/console/accounts?limit=100');
    expect(accounts.body.data.items.map((a: { id: string }) => a.id)).toContain(accountId);
    const topups = await Promise.all(
      [1, 2, 3].map(() =>
        operator.call('POST', `/console/accounts/${accountId}/topups`, {
          amount: 5_000_000,
          reference: 'bank-42',
          note: 'March',
        }),
      ),
    );
    expect(new Set(topups.map((t) => t.body.data.id)).size).toBe(1);
    const balance = await tenant.call('GET', '/balance');
    expect(balance.body.data).toMatchObject({ account_id: accountId, balance: 5_000_000 });
    const ledger = await tenant.call('GET', '/ledger');
    expect(ledger.body.data.items[0]).toMatchObject({
      type: 'topup',
      amount: 5_000_000,
      reference: 'bank-42',
    });
    const bad = await operator.call('POST', `/console/accounts/${accountId}/topups`, {
      amount: 0,
      reference: 'x',
    });
    expect(bad.body.error).toMatchObject({ code: 'INVALID_REQUEST', field: 'amount' });
  });

  it('approves live mode', async () => {
    const asked = await tenant.call('POST', '/live-mode', {
      use_case: 'Login codes for Shop',
      expected_volume: '5k/day',
    });
    expect(
      (await operator.call('GET', '/console/overview')).body.data.pending_live_requests,
    ).toBeGreaterThanOrEqual(1);
    const listed = await operator.call('GET', '/console/live-requests?status=pending');
    expect(listed.body.data.items.map((r: { id: string }) => r.id)).toContain(asked.body.data.id);
    const approved = await operator.call('POST', `/console/live-requests/${asked.body.data.id}/approve`);
    expect(approved.body.error, JSON.stringify(approved.body.error)).toBeUndefined();
    expect(approved.body.data.status).toBe('approved');
    expect(
      (await tenant.call('PATCH', `/apps/${appId}`, { environment: 'live' })).body.data.environment,
    ).toBe('live');
  });
});
