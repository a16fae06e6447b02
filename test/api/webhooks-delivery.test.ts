import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimDueDeliveries } from '../../src/store/webhooks.js';
import { RETRY_SCHEDULE, WebhookDispatcher } from '../../src/webhooks/dispatcher.js';
import { createHarness, type Harness, parallel, tally } from '../harness.js';
import { WebhookReceiver } from '../support/webhook-receiver.js';

/**
 * The dispatcher against a loopback receiver, driven round by round with
 * the hand clock: retries and their schedule, Retry-After, 410, timeouts,
 * redirects, SSRF at delivery time, replays, restarts and parallel
 * dispatchers.
 */

let h: Harness;
let receiver: WebhookReceiver;
beforeAll(async () => {
  h = await createHarness();
  receiver = await WebhookReceiver.start();
});
afterAll(async () => {
  await receiver.close();
});

let paths = 0;
const hookUrl = () => receiver.url(`/d/${++paths}`);
const receivedAt = (url: string) => receiver.received.filter((r) => url.endsWith(r.path));

let phones = 0;
const nextPhone = () => `+9779811${String(++phones).padStart(6, '0')}`;

/** A dispatcher without jitter unless asked, so waits are exact. */
const dispatcherFor = (options: ConstructorParameters<typeof WebhookDispatcher>[1] = {}) =>
  new WebhookDispatcher(h.ctx, { jitter: 0, timeoutMs: 2000, ...options });

async function drain(d: WebhookDispatcher) {
  while ((await d.drainOnce()) > 0) {
    // until nothing is due
  }
}

/** An app with one endpoint for `otp.sent`, and `n` OTPs sent (so `n` events queued). */
async function setup(n: number, url = hookUrl(), events: string[] = ['otp.sent']) {
  const { app, key } = await h.tenant();
  const res = await h.admin('POST', `/admin/v1/apps/${app.id}/webhooks`, { url, events });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  const endpoint = res.body.data as { id: string; secret: string; url: string };
  for (let i = 0; i < n; i++) {
    const sent = await h.call('POST', '/v1/otp/send', { key, body: { phone: nextPhone() } });
    expect(sent.status).toBe(201);
  }
  await h.deliver();
  const eventIds = (
    await h.ctx.store.db
      .selectFrom('webhook_deliveries')
      .select('event_id')
      .where('endpoint_id', '=', endpoint.id)
      .execute()
  ).map((r) => r.event_id);
  expect(eventIds).toHaveLength(n);
  return { app, key, endpoint, eventIds };
}

async function deliveries(appId: string, endpointId: string, query = '') {
  const res = await h.admin('GET', `/admin/v1/apps/${appId}/webhooks/${endpointId}/deliveries${query}`);
  expect(res.status).toBe(200);
  return res.body.data as { items: any[]; next_cursor: string | null };
}

describe('retries', () => {
  it('delivers every event at least once after the receiver was down, then answered 503, then came back', async () => {
    const d = dispatcherFor();
    const url = hookUrl();
    await receiver.down();
    const { app, endpoint, eventIds } = await setup(4, url);
    let page: Awaited<ReturnType<typeof deliveries>>;
    try {
      await drain(d);
      page = await deliveries(app.id, endpoint.id);
      for (const item of page.items) {
        expect(item).toMatchObject({ status: 'pending', attempt_count: 1, last_status_code: null });
        expect(item.last_error).toBe('Connection refused.');
        expect(Date.parse(item.next_attempt_at)).toBe(h.clock.now() + 5_000);
        expect(item.attempts).toMatchObject([
          { attempt: 1, status_code: null, error: 'Connection refused.' },
        ]);
      }
      // Not due yet: nothing is tried.
      h.clock.advance(4);
      await drain(d);
      expect((await deliveries(app.id, endpoint.id)).items.every((i) => i.attempt_count === 1)).toBe(true);
    } finally {
      await receiver.up();
    }
    receiver.respond([503, 503, 503, 503]);
    h.clock.advance(1);
    await drain(d);
    page = await deliveries(app.id, endpoint.id);
    for (const item of page.items) {
      expect(item).toMatchObject({ status: 'pending', attempt_count: 2, last_status_code: 503 });
      expect(Date.parse(item.next_attempt_at)).toBe(h.clock.now() + 300_000);
    }
    h.clock.advance(300);
    await drain(d);
    page = await deliveries(app.id, endpoint.id, '?status=succeeded');
    expect(page.items).toHaveLength(4);
    for (const item of page.items) {
      expect(item.attempts.map((a: any) => a.status_code)).toEqual([null, 503, 200]);
      expect(item.attempts.every((a: any) => Number.isInteger(a.latency_ms) && a.latency_ms >= 0)).toBe(true);
      expect(item.next_attempt_at).toBeNull();
    }
    const got = receivedAt(url);
    expect(new Set(got.map((r) => r.headers['webhook-id']))).toEqual(new Set(eventIds));
    // The id and the body are the same on every attempt of an event.
    for (const id of eventIds) {
      const bodies = new Set(got.filter((r) => r.headers['webhook-id'] === id).map((r) => r.body));
      expect(bodies.size).toBe(1);
    }
    for (const r of got) expect(() => new Webhook(endpoint.secret).verify(r.body, r.headers)).not.toThrow();
  });

  it('backs off on the schedule with jitter, then fails the delivery after the last try; a replay sends it again', async () => {
    const d = dispatcherFor({ jitter: 0.15 });
    const { app, endpoint, eventIds } = await setup(1);
    receiver.respond([], 500);
    try {
      await drain(d);
      for (const [i, wait] of RETRY_SCHEDULE.entries()) {
        const [item] = (await deliveries(app.id, endpoint.id)).items;
        expect(item).toMatchObject({ status: 'pending', attempt_count: i + 1, last_status_code: 500 });
        const delay = Date.parse(item.next_attempt_at) - h.clock.now();
        expect(delay).toBeGreaterThanOrEqual(wait * 1000 * 0.85);
        expect(delay).toBeLessThanOrEqual(wait * 1000 * 1.15);
        h.clock.advance(Math.ceil(delay / 1000));
        await drain(d);
      }
    } finally {
      receiver.respond([], 200);
    }
    const [failed] = (await deliveries(app.id, endpoint.id)).items;
    expect(failed).toMatchObject({
      status: 'failed',
      attempt_count: RETRY_SCHEDULE.length + 1,
      next_attempt_at: null,
    });
    expect(failed.attempts).toHaveLength(10);
    expect(failed.last_error).toMatch(/^HTTP 500/);
    // Nothing more is tried by itself.
    h.clock.advance(86_400 * 3);
    await drain(d);
    expect(receivedAt(endpoint.url)).toHaveLength(10);

    const replays = await parallel(3, () =>
      h.admin('POST', `/admin/v1/apps/${app.id}/webhooks/${endpoint.id}/deliveries/${failed.id}/replay`),
    );
    expect(tally(replays)).toEqual({ '200': 3 });
    expect(replays[0]!.body.data).toMatchObject({ status: 'pending', attempt_count: 0 });
    await drain(d);
    const [done] = (await deliveries(app.id, endpoint.id)).items;
    expect(done).toMatchObject({ status: 'succeeded', attempt_count: 1 });
    expect(done.attempts).toHaveLength(11);
    const got = receivedAt(endpoint.url);
    // Three parallel replays queued it once; every attempt carried the same event id.
    expect(got).toHaveLength(11);
    expect(new Set(got.map((r) => r.headers['webhook-id']))).toEqual(new Set(eventIds));
  });

  it('replays an event’s failed deliveries through the event', async () => {
    const d = dispatcherFor({ schedule: [] });
    const { app, endpoint, eventIds } = await setup(1);
    receiver.respond([418]);
    await drain(d);
    expect((await deliveries(app.id, endpoint.id)).items[0]).toMatchObject({
      status: 'failed',
      last_status_code: 418,
    });
    const replay = await h.admin('POST', `/admin/v1/apps/${app.id}/webhook-events/${eventIds[0]}/replay`);
    expect(replay.status).toBe(200);
    expect(replay.body.data.deliveries[0]).toMatchObject({ status: 'pending' });
    await drain(d);
    const event = await h.admin('GET', `/admin/v1/apps/${app.id}/webhook-events/${eventIds[0]}`);
    expect(event.body.data.deliveries[0]).toMatchObject({ status: 'succeeded' });
    expect(event.body.data.deliveries[0].attempts.map((a: any) => a.status_code)).toEqual([418, 200]);
  });

  it('honours a Retry-After in seconds or as an HTTP date when it is longer than the backoff', async () => {
    const d = dispatcherFor();
    const { app, endpoint } = await setup(1);
    const next = async () =>
      Date.parse((await deliveries(app.id, endpoint.id)).items[0].next_attempt_at) - h.clock.now();
    receiver.respond([{ status: 429, headers: { 'retry-after': '120' } }]);
    await drain(d);
    expect(await next()).toBe(120_000);
    h.clock.advance(120);
    const inAnHour = new Date(Date.now() + 3_600_000).toUTCString();
    receiver.respond([{ status: 503, headers: { 'retry-after': inAnHour } }]);
    await drain(d);
    // The date is read against the wall clock, to the second.
    expect(Math.abs((await next()) - 3_600_000)).toBeLessThan(2_000);
    h.clock.advance(3600);
    // Shorter than the backoff (30 min after the 3rd try): the backoff wins.
    receiver.respond([{ status: 503, headers: { 'retry-after': '1' } }]);
    await drain(d);
    expect(await next()).toBe(1_800_000);
    h.clock.advance(1800);
    receiver.respond([{ status: 503, headers: { 'retry-after': 'soon' } }]);
    await drain(d);
    expect(await next()).toBe(7_200_000);
  });

  it('counts any 2xx as done and any other answer as a failure', async () => {
    const d = dispatcherFor();
    const { app, endpoint } = await setup(2);
    receiver.respond([204, 404]);
    await drain(d);
    const items = (await deliveries(app.id, endpoint.id)).items;
    expect(items.map((i) => i.status).sort()).toEqual(['pending', 'succeeded']);
    expect(items.find((i) => i.status === 'pending').last_status_code).toBe(404);
  });
});

describe('410 Gone', () => {
  it('disables the endpoint, stops what was queued for it and records webhook.disabled', async () => {
    const d = dispatcherFor({ batch: 1 });
    const { app, key, endpoint } = await setup(3);
    receiver.respond([410]);
    expect(await d.drainOnce()).toBe(1);
    const read = await h.admin('GET', `/admin/v1/apps/${app.id}/webhooks/${endpoint.id}`);
    expect(read.body.data).toMatchObject({
      enabled: false,
      disabled_reason: 'The endpoint answered 410 Gone.',
    });
    const items = (await deliveries(app.id, endpoint.id)).items;
    expect(items.map((i) => i.status).sort()).toEqual(['canceled', 'canceled', 'failed']);
    expect(items.find((i) => i.status === 'failed').last_status_code).toBe(410);
    await drain(d);
    expect(receivedAt(endpoint.url)).toHaveLength(1);

    const logs = await h.call('GET', '/v1/logs?type=webhook.disabled', { key });
    expect(logs.body.data.items).toMatchObject([
      { type: 'webhook.disabled', detail: { endpoint_id: endpoint.id } },
    ]);

    // New events do not go to it, and a replay is refused until it is enabled again.
    await h.call('POST', '/v1/otp/send', { key, body: { phone: nextPhone() } });
    await h.deliver();
    expect((await deliveries(app.id, endpoint.id)).items).toHaveLength(3);
    const canceled = items.find((i) => i.status === 'canceled');
    const refused = await h.admin(
      'POST',
      `/admin/v1/apps/${app.id}/webhooks/${endpoint.id}/deliveries/${canceled.id}/replay`,
    );
    expect(refused.body.error).toMatchObject({ code: 'INVALID_REQUEST', field: 'enabled' });

    const enabled = await h.admin('PATCH', `/admin/v1/apps/${app.id}/webhooks/${endpoint.id}`, {
      enabled: true,
    });
    expect(enabled.body.data).toMatchObject({ enabled: true, disabled_reason: null });
    const replayed = await h.admin(
      'POST',
      `/admin/v1/apps/${app.id}/webhooks/${endpoint.id}/deliveries/${canceled.id}/replay`,
    );
    expect(replayed.body.data.status).toBe('pending');
    await drain(d);
    expect(receivedAt(endpoint.url)).toHaveLength(2);
  });

  it('disabling by hand stops queued deliveries too', async () => {
    const d = dispatcherFor();
    const { app, endpoint } = await setup(2);
    await h.admin('PATCH', `/admin/v1/apps/${app.id}/webhooks/${endpoint.id}`, { enabled: false });
    await drain(d);
    expect(receivedAt(endpoint.url)).toEqual([]);
    const items = (await deliveries(app.id, endpoint.id)).items;
    expect(items.map((i) => i.status)).toEqual(['canceled', 'canceled']);
  });
});

describe('what is never done', () => {
  it('gives up on a receiver that does not answer in time', async () => {
    const d = dispatcherFor({ timeoutMs: 300 });
    const { app, endpoint } = await setup(1);
    receiver.respond(['hang']);
    await drain(d);
    const [item] = (await deliveries(app.id, endpoint.id)).items;
    expect(item).toMatchObject({
      status: 'pending',
      last_status_code: null,
      last_error: 'Timed out after 300 ms.',
    });
    expect(item.attempts[0].latency_ms).toBeGreaterThanOrEqual(290);
  });

  it('defaults to a 10 s timeout', () => {
    expect(new WebhookDispatcher(h.ctx).options).toMatchObject({
      timeoutMs: 10_000,
      schedule: RETRY_SCHEDULE,
    });
  });

  it('does not follow redirects: a 302 is a failed attempt', async () => {
    const d = dispatcherFor();
    const target = hookUrl();
    const { app, endpoint } = await setup(1);
    receiver.respond([{ status: 302, headers: { location: target } }]);
    await drain(d);
    const [item] = (await deliveries(app.id, endpoint.id)).items;
    expect(item).toMatchObject({ status: 'pending', last_status_code: 302 });
    expect(item.last_error).toContain('redirect');
    expect(receivedAt(target)).toEqual([]);
  });

  it('refuses private targets at delivery time once they are not allowed (DNS rebinding)', async () => {
    const d = dispatcherFor();
    const byIp = await setup(1);
    const byName = await setup(1, `http://localhost:${receiver.port}/d/${++paths}`);
    const v6 = await setup(1, `http://[::1]:${receiver.port}/d/${++paths}`);
    h.ctx.allowPrivateWebhooks = false;
    try {
      await drain(d);
    } finally {
      h.ctx.allowPrivateWebhooks = true;
    }
    for (const { app, endpoint } of [byIp, byName, v6]) {
      const [item] = (await deliveries(app.id, endpoint.id)).items;
      expect(item).toMatchObject({ status: 'pending', attempt_count: 1, last_status_code: null });
      expect(item.attempts[0].error).toMatch(/loopback/);
      expect(receivedAt(endpoint.url)).toEqual([]);
    }
    const [named] = (await deliveries(byName.app.id, byName.endpoint.id)).items;
    expect(named.last_error).toMatch(/localhost resolves to/);
    // Allowed again: the retry goes through.
    h.clock.advance(5);
    await drain(d);
    expect(receivedAt(byIp.endpoint.url)).toHaveLength(1);
  });
});

describe('restarts and parallel dispatchers', () => {
  it('takes over a claim whose process died once its lease ends', async () => {
    const { app, endpoint, eventIds } = await setup(2);
    // A process claims both and dies before sending.
    const claimed = await claimDueDeliveries(h.ctx.store, h.clock.now(), 100, 20_000);
    expect(claimed.filter((c) => c.endpoint_id === endpoint.id)).toHaveLength(2);
    const restarted = dispatcherFor();
    await drain(restarted);
    expect(receivedAt(endpoint.url)).toEqual([]);
    h.clock.advance(19);
    await drain(restarted);
    expect(receivedAt(endpoint.url)).toEqual([]);
    h.clock.advance(1);
    await drain(restarted);
    const items = (await deliveries(app.id, endpoint.id)).items;
    // The lost claim counts as an attempt; the next one is the second.
    expect(items.map((i) => [i.status, i.attempt_count])).toEqual([
      ['succeeded', 2],
      ['succeeded', 2],
    ]);
    expect(new Set(receivedAt(endpoint.url).map((r) => r.headers['webhook-id']))).toEqual(new Set(eventIds));
  });

  it('sends each delivery once when several dispatchers drain at the same time', async () => {
    const { endpoint, eventIds } = await setup(12);
    const dispatchers = Array.from({ length: 4 }, () => dispatcherFor({ batch: 3 }));
    await Promise.all(dispatchers.map((d) => drain(d)));
    const ids = receivedAt(endpoint.url).map((r) => r.headers['webhook-id']);
    expect(ids.sort()).toEqual([...eventIds].sort());
  });

  it('runs by itself when started, and stops cleanly', async () => {
    const { endpoint } = await setup(1);
    const d = dispatcherFor({ pollMs: 20 });
    d.start();
    try {
      for (let i = 0; i < 200 && receivedAt(endpoint.url).length === 0; i++) {
        await new Promise((r) => setTimeout(r, 10));
      }
    } finally {
      await d.stop();
    }
    expect(receivedAt(endpoint.url)).toHaveLength(1);
  });
});

describe('the deliveries list', () => {
  it('pages newest first and filters by status and event', async () => {
    const d = dispatcherFor();
    const { app, endpoint, eventIds } = await setup(3);
    receiver.respond([500]);
    await drain(d);
    const first = await deliveries(app.id, endpoint.id, '?limit=2');
    expect(first.items).toHaveLength(2);
    expect(first.next_cursor).toBe(first.items[1].id);
    const second = await deliveries(app.id, endpoint.id, `?limit=2&cursor=${first.next_cursor}`);
    expect(second.items).toHaveLength(1);
    expect(second.next_cursor).toBeNull();
    const all = [...first.items, ...second.items];
    expect(all.map((i) => i.id)).toEqual([...all.map((i) => i.id)].sort().reverse());
    expect((await deliveries(app.id, endpoint.id, '?status=pending')).items).toHaveLength(1);
    expect((await deliveries(app.id, endpoint.id, `?event_id=${eventIds[0]}`)).items).toMatchObject([
      { event_id: eventIds[0], event_type: 'otp.sent' },
    ]);
    const bad = await h.admin(
      'GET',
      `/admin/v1/apps/${app.id}/webhooks/${endpoint.id}/deliveries?status=lost`,
    );
    expect(bad.body.error).toMatchObject({ code: 'INVALID_REQUEST', field: 'status' });
  });
});
