import { beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness } from '../harness.js';
import { type DashboardClient, signedIn } from '../support/dashboard.js';
import { WebhookReceiver } from '../support/webhook-receiver.js';

let h: Harness;
let alice: DashboardClient;
let bob: DashboardClient;
let appId: string;
let key: string;
beforeAll(async () => {
  h = await createHarness();
  alice = (await signedIn(h)).client;
  bob = (await signedIn(h)).client;
  appId = (await alice.call('POST', '/apps', { name: 'Shop', environment: 'sandbox' })).body.data.id;
  key = (await alice.call('POST', `/apps/${appId}/keys`)).body.data.secret;
});

describe('usage', () => {
  it('reports sent, delivered, verified and the conversion rate per day, country and channel', async () => {
    for (const phone of ['+9779841800001', '+9779841800002']) {
      await h.call('POST', '/v1/otp/send', { key, body: { phone } });
    }
    await h.deliver();
    await h.call('POST', '/v1/otp/verify', { key, body: { phone: '+9779841800001', code: '123456' } });
    // A report covers [from, to) and `to` defaults to now: let now move past the sends.
    h.clock.advance(1);
    const byDay = await alice.call('GET', `/apps/${appId}/usage?group_by=day`);
    expect(byDay.status).toBe(200);
    expect(byDay.body.data.totals).toMatchObject({
      sent: 2,
      delivered: 2,
      verified: 1,
      conversion_rate: 0.5,
    });
    expect(byDay.body.data.items).toHaveLength(1);
    const byCountry = await alice.call('GET', `/apps/${appId}/usage?group_by=country`);
    expect(byCountry.body.data.items[0]).toMatchObject({ key: 'NP', sent: 2 });
    const bad = await alice.call('GET', `/apps/${appId}/usage?group_by=week`);
    expect(bad.body.error).toMatchObject({ code: 'INVALID_REQUEST', field: 'group_by' });
    const foreign = await bob.call('GET', `/apps/${appId}/usage`);
    expect(foreign.body.error.code).toBe('NOT_FOUND');
  });
});

describe('templates', () => {
  it('submits through one of the account’s apps, lists and deletes; another account’s are not found', async () => {
    const submitted = await alice.call('POST', '/templates', {
      app_id: appId,
      name: 'Receipt',
      body: 'Payment {{ref}} received.',
      use_case: 'Receipts',
    });
    expect(submitted.status).toBe(201);
    expect(submitted.body.data).toMatchObject({ status: 'pending', variables: ['ref'], app_id: appId });
    const link = await alice.call('POST', '/templates', {
      app_id: appId,
      name: 'Link',
      body: 'See www.example.com',
      use_case: 'x',
    });
    expect(link.body.error).toMatchObject({ code: 'INVALID_REQUEST', field: 'body' });
    const viaForeignApp = await bob.call('POST', '/templates', {
      app_id: appId,
      name: 'Mine',
      body: 'Hi {{x}}',
      use_case: 'x',
    });
    expect(viaForeignApp.body.error.code).toBe('NOT_FOUND');

    expect((await bob.call('GET', '/templates')).body.data.items).toEqual([]);
    const stolen = await bob.call('DELETE', `/templates/${submitted.body.data.template_id}`);
    expect(stolen.status).toBe(404);
    expect(stolen.body.error.code).toBe('TEMPLATE_NOT_FOUND');
    const deleted = await alice.call('DELETE', `/templates/${submitted.body.data.template_id}`);
    expect(deleted.body.data.status).toBe('deleted');
  });
});

describe('webhooks', () => {
  it('creates an endpoint (secret once), rotates it, lists deliveries with status codes and replays one', async () => {
    const receiver = await WebhookReceiver.start();
    const created = await alice.call('POST', `/apps/${appId}/webhooks`, {
      url: receiver.url(),
      events: ['otp.verified'],
    });
    expect(created.status).toBe(201);
    expect(created.body.data.secret).toMatch(/^whsec_/);
    const endpointId = created.body.data.id;
    const list = await alice.call('GET', `/apps/${appId}/webhooks`);
    expect(JSON.stringify(list.body)).not.toContain(created.body.data.secret);

    await h.call('POST', '/v1/otp/send', { key, body: { phone: '+9779841800010' } });
    await h.call('POST', '/v1/otp/verify', { key, body: { phone: '+9779841800010', code: '123456' } });
    const deliveries = await alice.call('GET', `/apps/${appId}/webhooks/${endpointId}/deliveries`);
    expect(deliveries.status).toBe(200);
    const [delivery] = deliveries.body.data.items;
    expect(delivery).toMatchObject({ status: 'pending' });
    const replayed = await alice.call(
      'POST',
      `/apps/${appId}/webhooks/${endpointId}/deliveries/${delivery.id}/replay`,
    );
    expect(replayed.status).toBe(200);

    const rotated = await alice.call('POST', `/apps/${appId}/webhooks/${endpointId}/rotate`);
    expect(rotated.body.data.secret).toMatch(/^whsec_/);
    expect(rotated.body.data.secret).not.toBe(created.body.data.secret);
    const disabled = await alice.call('PATCH', `/apps/${appId}/webhooks/${endpointId}`, { enabled: false });
    expect(disabled.body.data.enabled).toBe(false);

    for (const res of [
      await bob.call('GET', `/apps/${appId}/webhooks`),
      await bob.call('POST', `/apps/${appId}/webhooks/${endpointId}/rotate`),
      await bob.call('DELETE', `/apps/${appId}/webhooks/${endpointId}`),
      await bob.call('GET', `/apps/${appId}/webhooks/${endpointId}/deliveries`),
    ]) {
      expect(res.status).toBe(404);
    }
    expect((await alice.call('DELETE', `/apps/${appId}/webhooks/${endpointId}`)).status).toBe(200);
    await receiver.down();
  });
});
