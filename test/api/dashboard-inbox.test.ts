import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, createHarness, type Harness } from '../harness.js';
import { DashboardClient, PASSWORD, signedIn, totpCode } from '../support/dashboard.js';

let h: Harness;
let base: string;
beforeAll(async () => {
  h = await createHarness();
  await h.server.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(h.server.server.address() as AddressInfo).port}`;
});

/** A tenant with a sandbox app and key, made through the dashboard. */
async function tenantWithKey() {
  const { client, accountId } = await signedIn(h);
  const app = (await client.call('POST', '/apps', { name: 'Inbox app', environment: 'sandbox' })).body.data;
  const key = (await client.call('POST', `/apps/${app.id}/keys`)).body.data.secret as string;
  return { client, accountId, app, key };
}

async function sendCode(key: string, phone: string) {
  const res = await h.call('POST', '/v1/otp/send', { key, body: { phone } });
  expect(res.status).toBe(201);
  await h.deliver();
  return res.body.data.otp_id as string;
}

interface Stream {
  status: number;
  events: { id: string; phone: string; text: string; app_id: string }[];
  /** Resolves once `n` events arrived. */
  until(n: number, ms?: number): Promise<void>;
  close(): void;
  body?: any;
}

const streams: Stream[] = [];
afterAll(() => {
  for (const s of streams) s.close();
});

/** Opens /inbox/stream and collects its events. */
async function openStream(query: string, headers: Record<string, string>): Promise<Stream> {
  const controller = new AbortController();
  const res = await fetch(`${base}/inbox/stream${query}`, { headers, signal: controller.signal });
  const stream: Stream = {
    status: res.status,
    events: [],
    close: () => controller.abort(),
    async until(n, ms = 5000) {
      const start = Date.now();
      while (stream.events.length < n) {
        if (Date.now() - start > ms) throw new Error(`only ${stream.events.length} of ${n} events`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
  streams.push(stream);
  if (res.headers.get('content-type')?.startsWith('application/json')) {
    stream.body = await res.json();
    return stream;
  }
  expect(res.headers.get('content-type')).toContain('text/event-stream');
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let ready = () => {};
  const readyOnce = new Promise<void>((r) => {
    ready = r;
  });
  (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += value;
        let end = buffer.indexOf('\n\n');
        while (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (block === ': ready') ready();
          const data = block.split('\n').find((l) => l.startsWith('data: '));
          if (data) stream.events.push(JSON.parse(data.slice(6)));
          end = buffer.indexOf('\n\n');
        }
      }
    } catch {
      // aborted
    }
  })();
  await readyOnce;
  return stream;
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const cookieOf = (client: DashboardClient) => ({
  cookie: [...client.cookies].map(([k, v]) => `${k}=${v}`).join('; '),
});

describe('/inbox/messages', () => {
  it('shows a tenant session its own account’s messages, an operator session every app’s', async () => {
    const mine = await tenantWithKey();
    const theirs = await tenantWithKey();
    await sendCode(mine.key, '+9779841500001');
    await sendCode(theirs.key, '+9779841500002');

    const own = await mine.client.call('GET', '/inbox/messages');
    expect(own.status).toBe(200);
    expect(own.body.data.items.map((m: { phone: string }) => m.phone)).toEqual(['+9779841500001']);
    expect(own.body.data.items[0].text).toContain('123456');

    const { client: operator } = await signedIn(h, { operatorToken: ADMIN_TOKEN });
    const all = await operator.call('GET', '/inbox/messages');
    expect(all.body.data.items.map((m: { phone: string }) => m.phone)).toEqual(
      expect.arrayContaining(['+9779841500001', '+9779841500002']),
    );
  });

  it('refuses a session that still owes its second factor', async () => {
    const { client, email } = await signedIn(h);
    const setup = await client.call('POST', '/two-factor/setup');
    await client.call('POST', '/two-factor/enable', {
      code: totpCode(setup.body.data.secret, h.clock.now()),
    });
    const pending = new DashboardClient(h);
    await pending.session();
    await pending.call('POST', '/login', { email, password: PASSWORD });
    const res = await pending.call('GET', '/inbox/messages');
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('INVALID_API_KEY');
  });
});

describe('/inbox/mail', () => {
  it('is the operator’s only: the token or an operator login', async () => {
    const { key, client } = await tenantWithKey();
    const withToken = await h.call('GET', '/inbox/mail', { key: ADMIN_TOKEN });
    expect(withToken.status).toBe(200);
    expect(withToken.body.data.items.some((m: { subject: string }) => /Verify/.test(m.subject))).toBe(true);
    const withKey = await h.call('GET', '/inbox/mail', { key });
    expect(withKey.status).toBe(401);
    expect(withKey.body.error.code).toBe('INVALID_ADMIN_TOKEN');
    expect((await client.call('GET', '/inbox/mail')).body.error.code).toBe('INVALID_ADMIN_TOKEN');
    const { client: operator } = await signedIn(h, { operatorToken: ADMIN_TOKEN });
    expect((await operator.call('GET', '/inbox/mail')).status).toBe(200);
  });
});

describe('/inbox/stream', () => {
  it('pushes each new message of the key’s app as it is delivered, and nothing of other apps', async () => {
    const mine = await tenantWithKey();
    const theirs = await tenantWithKey();
    const stream = await openStream('', bearer(mine.key));
    expect(stream.status).toBe(200);
    await sendCode(theirs.key, '+9779841500011');
    await sendCode(mine.key, '+9779841500012');
    await stream.until(1);
    await new Promise((r) => setTimeout(r, 600));
    expect(stream.events.map((e) => e.phone)).toEqual(['+9779841500012']);
    expect(stream.events[0]!.text).toContain('123456');
    expect(stream.events[0]!.app_id).toBe(mine.app.id);
  });

  it('follows one phone, for a session cookie', async () => {
    const mine = await tenantWithKey();
    const stream = await openStream(`?phone=${encodeURIComponent('+9779841500022')}`, cookieOf(mine.client));
    await sendCode(mine.key, '+9779841500021');
    await sendCode(mine.key, '+9779841500022');
    await stream.until(1);
    await new Promise((r) => setTimeout(r, 600));
    expect(stream.events.map((e) => e.phone)).toEqual(['+9779841500022']);
  });

  it('catches up from `after` (a reconnect) before going live', async () => {
    const mine = await tenantWithKey();
    await sendCode(mine.key, '+9779841500031');
    const [first] = (await mine.client.call('GET', '/inbox/messages')).body.data.items;
    await sendCode(mine.key, '+9779841500032');
    await sendCode(mine.key, '+9779841500033');
    const stream = await openStream(`?after=${first.id}`, bearer(mine.key));
    expect(stream.events.map((e) => e.phone)).toEqual(['+9779841500032', '+9779841500033']);
    await sendCode(mine.key, '+9779841500034');
    await stream.until(3);
    expect(stream.events.map((e) => e.phone)).toEqual(['+9779841500032', '+9779841500033', '+9779841500034']);
  });

  it('gives the operator token every app’s messages', async () => {
    const a = await tenantWithKey();
    const b = await tenantWithKey();
    const stream = await openStream('', bearer(ADMIN_TOKEN));
    await sendCode(a.key, '+9779841500041');
    await sendCode(b.key, '+9779841500042');
    await stream.until(2);
    expect(stream.events.map((e) => e.phone).sort()).toEqual(['+9779841500041', '+9779841500042']);
  });

  it('refuses a missing or bad credential in the envelope before any stream opens', async () => {
    for (const headers of [{}, bearer('otpd_test_nope')]) {
      const stream = await openStream('', headers);
      expect(stream.status).toBe(401);
      expect(stream.body.error.code).toBe('INVALID_API_KEY');
    }
    const bad = await openStream('?after=not-an-id', bearer(ADMIN_TOKEN));
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'INVALID_REQUEST', field: 'after' });
  });
});
