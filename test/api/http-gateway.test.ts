import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config.js';
import { checkDeliveryConfig } from '../../src/delivery/config.js';
import { buildDelivery, PROVIDER_SCHEMAS } from '../../src/delivery/registry.js';
import { createHarness, type Harness } from '../harness.js';
import { LoopbackAggregator, LoopbackKannel } from '../support/kannel.js';

const AGG_TOKEN = 'agg-token-0123456789';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

let h: Harness;
let key: string;
let kannel: LoopbackKannel;
let aggregator: LoopbackAggregator;
/** Answers 400 to everything: the first provider of the failover route. */
let refusing: LoopbackAggregator;
let deadUrl: string;
const logLines: string[] = [];

/** Routes by number prefix: each block of numbers reaches one provider set. */
const NUMBERS = {
  kannel: '+97798410',
  rejected: '+97798419',
  aggregator: '+97798420',
  failover: '+97798430',
  badAuth: '+97798440',
  dead: '+97798450',
};

beforeAll(async () => {
  kannel = await new LoopbackKannel({
    username: 'otpd',
    password: 'kannel-pass',
    rejectPrefixes: ['97798419'],
  }).start();
  aggregator = await new LoopbackAggregator(AGG_TOKEN).start();
  refusing = await new LoopbackAggregator(AGG_TOKEN).start();
  deadUrl = `http://127.0.0.1:${await freePort()}`;
  afterAll(async () => {
    await Promise.all([kannel.close(), aggregator.close(), refusing.close()]);
  });

  const port = await freePort();
  const kannelUrl = (password: string) =>
    `${kannel.url}/cgi-bin/sendsms?username=otpd&password=${password}&to={phone_digits}&from={sender}` +
    '&text={text}&charset=UTF-8&coding=2&dlr-mask=31&dlr-url={receipt_url}';
  const kannelSettings = {
    type: 'http',
    method: 'GET',
    url: kannelUrl('kannel-pass'),
    sender: 'OTPD',
    receipt_query: { status: '%d', reply: '%A' },
    success: { body_match: '^0: Accepted|^Sent' },
    receipt: { error_param: 'reply' },
    timeout: 1,
  };
  const aggregatorSettings = (url: string) => ({
    type: 'http',
    url: `${url}/api/v1/sms`,
    headers: { Authorization: 'env:OTPD_TEST_AGG_AUTH' },
    body: { to: '{phone}', message: '{text}', sender: '{sender}', callback_url: '{receipt_url}' },
    success: { json_path: 'ok' },
    message_id: { json_path: 'data.id' },
    receipt: { id_param: 'id', error_param: 'error' },
    timeout: 1,
  });
  process.env.OTPD_TEST_AGG_AUTH = `Bearer ${AGG_TOKEN}`;
  const stream = new Writable({
    write(chunk, _encoding, done) {
      logLines.push(String(chunk));
      done();
    },
  });
  h = await createHarness({
    logger: pino({ level: 'debug' }, stream),
    delivery: {
      public_url: `http://127.0.0.1:${port}`,
      reconcile_after: 60,
      providers: {
        kannel: kannelSettings,
        kannel_bad_auth: { ...kannelSettings, url: kannelUrl('wrong') },
        agg: aggregatorSettings(aggregator.url),
        gw_down: aggregatorSettings(refusing.url),
        gw_up: kannelSettings,
        gw_dead: { ...kannelSettings, url: `${deadUrl}/cgi-bin/sendsms?to={phone_digits}&text={text}` },
      },
      routes: [
        { prefixes: [NUMBERS.kannel, NUMBERS.rejected], providers: ['kannel'] },
        { prefixes: [NUMBERS.aggregator], providers: ['agg'] },
        { prefixes: [NUMBERS.failover], providers: ['gw_down', 'gw_up'] },
        { prefixes: [NUMBERS.badAuth], providers: ['kannel_bad_auth'] },
        { prefixes: [NUMBERS.dead], providers: ['gw_dead'] },
      ],
    },
  });
  delete process.env.OTPD_TEST_AGG_AUTH;
  // The gateways call otpd back at public_url.
  await h.server.listen({ port, host: '127.0.0.1' });
  ({ key } = await h.tenant({ environment: 'live' }));
});

async function send(phone: string, message?: string): Promise<string> {
  const res = await h.call('POST', '/v1/otp/send', { key, body: { phone, ...(message ? { message } : {}) } });
  expect(res.status).toBe(201);
  return res.body.data.otp_id;
}

async function messageOf(otpId: string) {
  return h.ctx.store.db
    .selectFrom('messages')
    .selectAll()
    .where('otp_id', '=', otpId)
    .executeTakeFirstOrThrow();
}

const kannelRequestsTo = (phone: string) => kannel.requests.filter((r) => `+${r.to}` === phone);

describe('http gateway: Kannel sendsms', () => {
  it('delivers Unicode text byte-exact, then settles the message from dlr 8 and 1', async () => {
    const phone = `${NUMBERS.kannel}00001`;
    const template = 'तपाईंको कोड {code} हो। Mã của bạn: {code}. رمزك {code}';
    const otpId = await send(phone, template);
    await h.deliver();

    const [request] = kannelRequestsTo(phone);
    expect(request).toMatchObject({
      method: 'GET',
      username: 'otpd',
      to: phone.slice(1),
      from: 'OTPD',
      charset: 'UTF-8',
      coding: 2,
      dlrMask: 31,
    });
    const code = /कोड (\d{6}) हो/.exec(request!.text)?.[1];
    expect(code).toBeDefined();
    expect(request!.text).toBe(template.replaceAll('{code}', code!));
    expect(request!.handset).toBe(request!.text);

    const row = await messageOf(otpId);
    expect(row).toMatchObject({ status: 'sent', provider: 'kannel', provider_message_id: null });
    expect(request!.dlrUrl).toMatch(
      new RegExp(
        `^http://127\\.0\\.0\\.1:\\d+/callbacks/kannel\\?message_id=${row.id}&token=[\\w-]+&status=%d&reply=%A$`,
      ),
    );

    expect(await kannel.receipt(request!, 8)).toMatchObject({ status: 200, body: 'OK' });
    expect(await messageOf(otpId)).toMatchObject({ status: 'sent', delivered_at: null });
    expect(await kannel.receipt(request!, 1)).toMatchObject({ status: 200, body: 'OK' });
    expect(await messageOf(otpId)).toMatchObject({ status: 'delivered', delivered_at: h.clock.now() });

    // The code that went out is the OTP's code.
    const verify = await h.call('POST', '/v1/otp/verify', { key, body: { otp_id: otpId, code } });
    expect(verify.body.data).toMatchObject({ verified: true, status: 'verified' });
  });

  it('records an SMSC reject (dlr 16) as failed with Kannel’s reply', async () => {
    const otpId = await send(`${NUMBERS.rejected}00001`);
    await h.deliver();
    await kannel.report();
    expect(await messageOf(otpId)).toMatchObject({
      status: 'failed',
      error: 'NACK/0x0000000b/Invalid Destination Address',
    });
  });

  it('refuses a receipt with a missing or wrong token, changing nothing', async () => {
    const phone = `${NUMBERS.kannel}00002`;
    const otpId = await send(phone);
    const other = await send(`${NUMBERS.kannel}00003`);
    await h.deliver();
    const url = new URL(kannelRequestsTo(phone)[0]!.dlrUrl!.replace('%d', '1').replace('%A', 'ACK%2F'));
    const row = await messageOf(otpId);
    const otherUrl = new URL(kannelRequestsTo(`${NUMBERS.kannel}00003`)[0]!.dlrUrl!);

    const attempts = [
      (() => {
        const u = new URL(url);
        u.searchParams.delete('token');
        return u;
      })(),
      (() => {
        const u = new URL(url);
        u.searchParams.set('token', `${u.searchParams.get('token')!.slice(0, -1)}A`);
        return u;
      })(),
      // Another message's valid token does not open this one.
      (() => {
        const u = new URL(url);
        u.searchParams.set('token', otherUrl.searchParams.get('token')!);
        return u;
      })(),
    ];
    for (const attempt of attempts) {
      const res = await fetch(attempt);
      expect(res.status).toBe(401);
      expect(((await res.json()) as any).error.code).toBe('INVALID_SIGNATURE');
    }
    expect(await messageOf(otpId)).toEqual(row);
    expect((await messageOf(other)).status).toBe('sent');

    // The genuine one goes through; a status the settings do not name is ignored.
    const unknownStatus = new URL(url);
    unknownStatus.searchParams.set('status', '32');
    expect((await fetch(unknownStatus)).status).toBe(200);
    expect((await messageOf(otpId)).status).toBe('sent');
    expect((await fetch(url)).status).toBe(200);
    expect((await messageOf(otpId)).status).toBe('delivered');
  });

  it('retries a 503 later on the same gateway, and it goes through', async () => {
    const phone = `${NUMBERS.kannel}00004`;
    const otpId = await send(phone);
    kannel.answerNext(1, { status: 503, body: 'Sending failed.' });
    const hits = kannel.hits;
    await h.deliver();
    expect(await messageOf(otpId)).toMatchObject({
      status: 'queued',
      error: 'kannel: HTTP 503: Sending failed.',
    });
    h.clock.advance(3);
    await h.deliver();
    expect(kannel.hits).toBe(hits + 2);
    expect(kannelRequestsTo(phone)).toHaveLength(1);
    expect((await messageOf(otpId)).status).toBe('sent');
  });

  it('fails for good on 403 (bad credentials), with Kannel’s answer as the error', async () => {
    const otpId = await send(`${NUMBERS.badAuth}00001`);
    const hits = kannel.hits;
    await h.deliver();
    h.clock.advance(60);
    await h.deliver();
    expect(kannel.hits).toBe(hits + 1);
    expect(await messageOf(otpId)).toMatchObject({
      status: 'failed',
      error: 'kannel_bad_auth: HTTP 403: Authorization failed for sendsms',
    });
  });

  it('fails for good on a 2xx whose body does not match success.body_match', async () => {
    const otpId = await send(`${NUMBERS.kannel}00005`);
    kannel.answerNext(1, { status: 200, body: 'Result: queue full, rejected' });
    await h.deliver();
    h.clock.advance(60);
    await h.deliver();
    const row = await messageOf(otpId);
    expect(row.status).toBe('failed');
    expect(row.error).toBe('kannel: HTTP 200, not an accepted answer: Result: queue full, rejected');
  });

  it('retries when the gateway refuses the connection', async () => {
    const otpId = await send(`${NUMBERS.dead}00001`);
    await h.deliver();
    expect(await messageOf(otpId)).toMatchObject({
      status: 'queued',
      error: 'gw_dead: Cannot reach the gateway (ECONNREFUSED).',
    });
  });

  it('records a hung request as unknown, never sends it again, and settles it by receipt', async () => {
    const phone = `${NUMBERS.kannel}00006`;
    const otpId = await send(phone);
    kannel.hangNext(1);
    await h.deliver();
    expect(await messageOf(otpId)).toMatchObject({
      status: 'unknown',
      error: 'kannel: No answer from the gateway within 1 s.',
    });
    h.clock.advance(30);
    await h.deliver();
    expect(kannelRequestsTo(phone)).toHaveLength(1);

    // Kannel did take it: its receipts settle the message.
    await kannel.report();
    expect(await messageOf(otpId)).toMatchObject({ status: 'delivered', provider: 'kannel' });
    h.clock.advance(120);
    await h.deliver();
    expect(kannelRequestsTo(phone)).toHaveLength(1);
    expect((await messageOf(otpId)).status).toBe('delivered');
  });

  it('fails a hung request with no receipt after reconcile_after, without sending it again', async () => {
    const phone = `${NUMBERS.kannel}00007`;
    const otpId = await send(phone);
    kannel.hangNext(1);
    await h.deliver();
    h.clock.advance(61);
    await h.deliver();
    expect(kannelRequestsTo(phone)).toHaveLength(1);
    expect(await messageOf(otpId)).toMatchObject({
      status: 'failed',
      error: 'No answer or receipt from kannel.',
    });
  });
});

describe('http gateway: JSON aggregator', () => {
  it('posts the body template with the bearer header and reads the id from the JSON answer', async () => {
    const phone = `${NUMBERS.aggregator}00001`;
    const otpId = await send(phone);
    await h.deliver();
    const sent = aggregator.messages.find((m) => m.to === phone)!;
    expect(sent).toMatchObject({ to: phone, sender: '' });
    expect(sent.message).toMatch(/^Your Test app verification code is \d{6}\. It expires in 5 minutes\.$/);
    const row = await messageOf(otpId);
    expect(row).toMatchObject({ status: 'sent', provider: 'agg', provider_message_id: sent.id });
    expect(sent.callback_url).toMatch(new RegExp(`/callbacks/agg\\?message_id=${row.id}&token=[\\w-]+$`));

    expect(await aggregator.report(sent.id, 'delivered')).toMatchObject({ status: 200, body: 'OK' });
    expect(await messageOf(otpId)).toMatchObject({ status: 'delivered' });
  });

  it('takes a failed report by POST JSON with its error field', async () => {
    const phone = `${NUMBERS.aggregator}00002`;
    const otpId = await send(phone);
    await h.deliver();
    const sent = aggregator.messages.find((m) => m.to === phone)!;
    expect((await aggregator.report(sent.id, 'failed', 'absent subscriber')).status).toBe(200);
    expect(await messageOf(otpId)).toMatchObject({ status: 'failed', error: 'absent subscriber' });
  });

  it('fails for good on {"ok":false} with 200, and blanks the code out of the error', async () => {
    const phone = `${NUMBERS.aggregator}00003`;
    const otpId = await send(phone);
    let echoed = '';
    aggregator.answerNext(1, (body) => {
      echoed = JSON.parse(body.toString()).message;
      return {
        status: 200,
        type: 'application/json',
        body: JSON.stringify({ ok: false, error: `spam: ${echoed}` }),
      };
    });
    await h.deliver();
    const code = /code is (\d{6})/.exec(echoed)![1]!;
    const row = await messageOf(otpId);
    expect(row.status).toBe('failed');
    expect(row.error).toContain(
      'agg: HTTP 200, ok is not true: {"ok":false,"error":"spam: Your Test app verification code is ***.',
    );
    expect(row.error).not.toContain(code);
  });

  it('retries a 429 and fails for good on a 400', async () => {
    const retried = await send(`${NUMBERS.aggregator}00004`);
    aggregator.answerNext(1, {
      status: 429,
      type: 'application/json',
      body: '{"ok":false,"error":"rate limited"}',
    });
    await h.deliver();
    expect(await messageOf(retried)).toMatchObject({ status: 'queued' });
    h.clock.advance(3);
    await h.deliver();
    expect(await messageOf(retried)).toMatchObject({ status: 'sent' });

    const refused = await send(`${NUMBERS.aggregator}00005`);
    aggregator.answerNext(1, {
      status: 400,
      type: 'application/json',
      body: '{"ok":false,"error":"insufficient credit"}',
    });
    await h.deliver();
    expect(await messageOf(refused)).toMatchObject({
      status: 'failed',
      error: 'agg: HTTP 400: {"ok":false,"error":"insufficient credit"}',
    });
  });
});

describe('http gateway: failover', () => {
  it('hands a message refused with 400 to the next gateway, each called exactly once', async () => {
    const phone = `${NUMBERS.failover}00001`;
    const otpId = await send(phone);
    refusing.answerNext(1, {
      status: 400,
      type: 'application/json',
      body: '{"ok":false,"error":"number blocked"}',
    });
    await h.deliver();
    h.clock.advance(600);
    await h.deliver();
    expect(refusing.hits).toBe(1);
    expect(refusing.messages).toHaveLength(0);
    expect(kannelRequestsTo(phone)).toHaveLength(1);
    expect(await messageOf(otpId)).toMatchObject({ status: 'sent', provider: 'gw_up' });
    await kannel.receipt(kannelRequestsTo(phone)[0]!, 1);
    expect((await messageOf(otpId)).status).toBe('delivered');
  });
});

describe('http gateway: logs', () => {
  it('never logs a code that went out', async () => {
    const codes = [
      ...kannel.requests.map((r) => /(\d{6})/.exec(r.text)?.[1]),
      ...aggregator.messages.map((m) => /(\d{6})/.exec(m.message)?.[1]),
    ].filter((c): c is string => Boolean(c));
    expect(codes.length).toBeGreaterThan(5);
    expect(logLines.length).toBeGreaterThan(0);
    const logs = logLines.join('');
    for (const code of codes) expect(logs).not.toContain(code);
  });
});

describe('http gateway: configuration', () => {
  const check =
    (gw: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
    () =>
      buildDelivery(
        h.ctx,
        checkDeliveryConfig(
          {
            public_url: 'https://otpd.example.com',
            providers: { gw: { type: 'http', url: 'https://gw.example/send', ...gw } },
            routes: [{ providers: ['gw'] }],
            ...extra,
          },
          PROVIDER_SCHEMAS,
          {},
        ),
      );

  it('accepts the Kannel and aggregator shapes of the docs', () => {
    expect(
      check({ method: 'GET', url: 'https://kannel/cgi-bin/sendsms?to={phone_digits}&dlr-url={receipt_url}' }),
    ).not.toThrow();
    expect(check({ body: { data: { to: ['{phone}'], n: 1, flash: false, ref: null } } })).not.toThrow();
  });

  it.each([
    [{ body: { to: '{phon}' } }, /^providers\.gw\.body\.to: unknown placeholder \{phon\}/],
    [
      { body: { data: { to: '{phone}', text: '{txt}' } } },
      /^providers\.gw\.body\.data\.text: unknown placeholder \{txt\}/,
    ],
    [{ url: 'https://gw.example/send?to={number}' }, /^providers\.gw\.url: unknown placeholder \{number\}/],
    [
      { headers: { 'X-Sender': '{from}' } },
      /^providers\.gw\.headers\.X-Sender: unknown placeholder \{from\}/,
    ],
    [{ headers: { 'Bad Header': 'x' } }, /^providers\.gw\.headers\.Bad Header: not a valid header name/],
    [{ method: 'PUT' }, /^providers\.gw\.method /],
    [{ bodytype: 'form' }, /^providers\.gw\.bodytype is not a known setting/],
    [{ method: 'GET', body: { to: '{phone}' } }, /^providers\.gw\.body: a GET request has no body/],
    [{ body_type: 'form', body: { data: { to: '{phone}' } } }, /^providers\.gw\.body\.data: a form body/],
    [
      { success: { body_match: '^0: (Accepted' } },
      /^providers\.gw\.success\.body_match: not a valid regular expression/,
    ],
    [{ message_id: { regex: 'id=\\w+' } }, /^providers\.gw\.message_id\.regex: needs a group/],
    [{ success: { status: [200, 700] } }, /^providers\.gw\.success\.status\.1 /],
    [{ receipt: { delivered: [] } }, /^providers\.gw\.receipt\.delivered /],
    [{ url: 'ftp://gw.example/send' }, /^providers\.gw\.url /],
  ])('refuses %j naming the key', (gw, message) => {
    expect(check(gw)).toThrow(ConfigError);
    expect(check(gw)).toThrow(message);
  });

  it('refuses {receipt_url} without public_url', () => {
    const build = () =>
      buildDelivery(
        h.ctx,
        checkDeliveryConfig(
          {
            providers: {
              gw: { type: 'http', url: 'https://gw.example/send', body: { cb: '{receipt_url}' } },
            },
            routes: [{ providers: ['gw'] }],
          },
          PROVIDER_SCHEMAS,
          {},
        ),
      );
    expect(build).toThrow(/^providers\.gw: \{receipt_url\} needs public_url/);
  });
});
