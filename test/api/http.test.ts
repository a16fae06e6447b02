import { Writable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { ERRORS } from '../../src/core/errors.js';
import { createLogger } from '../../src/logger.js';
import { generateKeySecret } from '../../src/tenancy/keys.js';
import { ADMIN_TOKEN, backend, codeFromInbox, createHarness, type Harness } from '../harness.js';

let h: Harness;
let key: string;
beforeAll(async () => {
  h = await createHarness();
  key = (await h.tenant()).key;
});

/** A raw request through the server: the body is sent as given. */
async function raw(
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE' | 'PUT',
  url: string,
  options: { payload?: string | Buffer; headers?: Record<string, string> } = {},
) {
  const res = await h.server.inject({ method, url, headers: options.headers, payload: options.payload });
  let body: any = res.body;
  try {
    body = res.json();
  } catch {
    // not JSON
  }
  return { status: res.statusCode, headers: res.headers, body, text: res.body };
}

function expectErrorEnvelope(
  res: { status: number; headers: Record<string, unknown>; body: any },
  status: number,
  code: string,
) {
  expect(res.status).toBe(status);
  expect(res.body).toEqual({
    success: false,
    error: expect.objectContaining({ code, message: expect.any(String) }),
    request_id: expect.stringMatching(/^req_/),
  });
  expect(res.headers['x-request-id']).toBe(res.body.request_id);
  expect(ERRORS[code as keyof typeof ERRORS].status).toBe(status);
}

const basic = (text: string) => `Basic ${Buffer.from(text).toString('base64')}`;

describe('the envelope at the edges', () => {
  it.each([
    ['GET', '/nope'],
    ['GET', '/v1/nope'],
    ['POST', '/v1/otp/nope'],
    ['DELETE', '/v1/otp/send'],
    ['GET', '/admin/v1/nope'],
  ] as const)('answers %s %s with 404 NOT_FOUND', async (method, url) => {
    const res = await raw(method, url, { headers: { authorization: `Bearer ${key}` } });
    expectErrorEnvelope(res, 404, 'NOT_FOUND');
  });

  it('does not echo the query string of an unknown route', async () => {
    const res = await raw('GET', `/nope?api_key=${key}`);
    expectErrorEnvelope(res, 404, 'NOT_FOUND');
    expect(res.text).not.toContain(key);
  });

  it.each([
    ['a truncated object', '{"phone":'],
    ['a bare word', 'phone'],
    ['a trailing comma', '{"phone":"+9779841400001",}'],
    ['single quotes', "{'phone':'+9779841400001'}"],
  ])('answers malformed JSON (%s) with 400 INVALID_JSON', async (_name, payload) => {
    const res = await raw('POST', '/v1/otp/send', {
      payload,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    });
    expectErrorEnvelope(res, 400, 'INVALID_JSON');
  });

  it('answers an empty JSON body as a missing body: 400 INVALID_REQUEST on body', async () => {
    const res = await raw('POST', '/v1/otp/send', {
      payload: '',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    });
    expectErrorEnvelope(res, 400, 'INVALID_REQUEST');
    expect(res.body.error.field).toBe('body');
  });

  it.each([
    ['text/plain', '{"phone":"+9779841400001"}'],
    ['application/x-www-form-urlencoded', 'phone=%2B9779841400001'],
    [
      'multipart/form-data; boundary=x',
      '--x\r\nContent-Disposition: form-data; name="phone"\r\n\r\n+9779841400001\r\n--x--',
    ],
    ['application/xml', '<phone>+9779841400001</phone>'],
  ])('answers a %s body with 415 UNSUPPORTED_MEDIA_TYPE', async (type, payload) => {
    const res = await raw('POST', '/v1/otp/send', {
      payload,
      headers: { authorization: `Bearer ${key}`, 'content-type': type },
    });
    expectErrorEnvelope(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('accepts application/json with a charset', async () => {
    const res = await raw('POST', '/v1/otp/send', {
      payload: JSON.stringify({ phone: '+9779841400002' }),
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json; charset=utf-8' },
    });
    expect(res.status).toBe(201);
  });

  it('answers a body over 64 KB with 413 PAYLOAD_TOO_LARGE', async () => {
    const payload = JSON.stringify({ phone: '+9779841400003', metadata: { blob: 'x'.repeat(65 * 1024) } });
    const res = await raw('POST', '/v1/otp/send', {
      payload,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    });
    expectErrorEnvelope(res, 413, 'PAYLOAD_TOO_LARGE');
    const otps = await h.ctx.store.db
      .selectFrom('otps')
      .select('id')
      .where('phone', '=', '+9779841400003')
      .execute();
    expect(otps).toHaveLength(0);
  });

  it('answers a body just under 64 KB by its content, not its size', async () => {
    const payload = JSON.stringify({ phone: '+9779841400004', metadata: { blob: 'x'.repeat(60 * 1024) } });
    const res = await raw('POST', '/v1/otp/send', {
      payload,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    });
    expectErrorEnvelope(res, 400, 'INVALID_REQUEST');
    expect(res.body.error.field).toBe('metadata');
  });

  it.each([
    '{"phone":"+9779841400005","__proto__":{"admin":true}}',
    '{"phone":"+9779841400005","metadata":{"__proto__":{"polluted":1}}}',
    '{"phone":"+9779841400005","constructor":{"prototype":{"polluted":1}}}',
    '{"otp_id":"otp_x","code":"123456","__proto__":{"code":"1"}}',
  ])('answers %s with a 4xx, never a 500, and pollutes nothing', async (payload) => {
    for (const url of ['/v1/otp/send', '/v1/otp/verify']) {
      const res = await raw('POST', url, {
        payload,
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      });
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(res.body.success).toBe(false);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(({} as Record<string, unknown>).admin).toBeUndefined();
    }
  });

  it('sets X-Request-Id on every response, equal to request_id', async () => {
    const responses = [
      await raw('GET', '/healthz'),
      await raw('GET', '/nope'),
      await raw('GET', '/v1/otp', { headers: { authorization: `Bearer ${key}` } }),
      await raw('GET', '/v1/otp'),
      await raw('POST', '/v1/otp/send', {
        headers: { authorization: `Bearer ${key}`, 'content-type': 'text/plain' },
        payload: 'x',
      }),
      await raw('POST', '/v1/otp/send', {
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        payload: JSON.stringify({ phone: 'nope' }),
      }),
      await raw('GET', '/admin/v1/accounts', { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }),
    ];
    const ids = new Set<string>();
    for (const res of responses) {
      expect(res.headers['x-request-id']).toMatch(/^req_/);
      expect(res.body.request_id).toBe(res.headers['x-request-id']);
      ids.add(res.body.request_id);
    }
    expect(ids.size).toBe(responses.length);
    for (const url of ['/metrics', '/openapi.json', '/inbox']) {
      expect((await raw('GET', url)).headers['x-request-id']).toMatch(/^req_/);
    }
  });

  it('ignores a request id sent by the client', async () => {
    const res = await raw('GET', '/healthz', { headers: { 'x-request-id': 'req_spoofed' } });
    expect(res.body.request_id).not.toBe('req_spoofed');
    expect(res.headers['x-request-id']).toBe(res.body.request_id);
  });
});

describe('API key authentication', () => {
  it.each([
    ['Bearer', (k: string) => ({ authorization: `Bearer ${k}` })],
    ['lower-case bearer', (k: string) => ({ authorization: `bearer ${k}` })],
    ['Basic with the key as password', (k: string) => ({ authorization: basic(`:${k}`) })],
    ['Basic with a user and the key as password', (k: string) => ({ authorization: basic(`api:${k}`) })],
    ['Basic with the key as username', (k: string) => ({ authorization: basic(`${k}:`) })],
    ['Basic with the key alone', (k: string) => ({ authorization: basic(k) })],
    ['X-API-Key', (k: string) => ({ 'x-api-key': k })],
  ])('accepts the key in %s', async (_name, headers) => {
    const res = await raw('GET', '/v1/otp', { headers: headers(key) });
    expect(res.status).toBe(200);
    expect(res.body.success).toBe(true);
  });

  it('sends a code with each auth form', async () => {
    const forms: Record<string, string>[] = [
      { authorization: `Bearer ${key}` },
      { authorization: basic(`:${key}`) },
      { 'x-api-key': key },
    ];
    for (const [i, headers] of forms.entries()) {
      const res = await raw('POST', '/v1/otp/send', {
        headers: { ...headers, 'content-type': 'application/json' },
        payload: JSON.stringify({ phone: `+97798414001${10 + i}` }),
      });
      expect(res.status).toBe(201);
    }
  });

  it.each(['api_key', 'apikey', 'key', 'token', 'access_token', 'secret', 'API_KEY'])(
    'refuses a key in the query string (?%s=) with 401, even with a valid header',
    async (name) => {
      const res = await raw('GET', `/v1/otp?${name}=${key}`, { headers: { authorization: `Bearer ${key}` } });
      expectErrorEnvelope(res, 401, 'INVALID_API_KEY');
      expect(res.text).not.toContain(key);
    },
  );

  it('refuses a send with the key in the query string and creates nothing', async () => {
    const res = await raw('POST', `/v1/otp/send?limit=1&api_key=${key}`, {
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      payload: JSON.stringify({ phone: '+9779841400020' }),
    });
    expectErrorEnvelope(res, 401, 'INVALID_API_KEY');
    const otps = await h.ctx.store.db
      .selectFrom('otps')
      .select('id')
      .where('phone', '=', '+9779841400020')
      .execute();
    expect(otps).toHaveLength(0);
  });

  it.each([
    ['no credentials', {}],
    ['an empty bearer', { authorization: 'Bearer ' }],
    ['a made-up key', { authorization: 'Bearer sk_live_123' }],
    ['an unknown scheme', { authorization: 'Token abc' }],
    ['garbage Basic', { authorization: 'Basic %%%' }],
    ['an empty X-API-Key', { 'x-api-key': '' }],
  ])('refuses %s with 401 INVALID_API_KEY', async (_name, headers) => {
    const res = await raw('GET', '/v1/otp', { headers: headers as Record<string, string> });
    expectErrorEnvelope(res, 401, 'INVALID_API_KEY');
  });

  it('refuses a key with a broken checksum', async () => {
    const last = key.at(-1)!;
    const broken = key.slice(0, -1) + (last === 'a' ? 'b' : 'a');
    expectErrorEnvelope(
      await raw('GET', '/v1/otp', { headers: { authorization: `Bearer ${broken}` } }),
      401,
      'INVALID_API_KEY',
    );
    const middle = `${key.slice(0, 20)}${key[20] === 'Z' ? 'Y' : 'Z'}${key.slice(21)}`;
    expectErrorEnvelope(
      await raw('GET', '/v1/otp', { headers: { authorization: `Bearer ${middle}` } }),
      401,
      'INVALID_API_KEY',
    );
  });

  it('refuses a well-formed key that was never issued', async () => {
    for (const made of [generateKeySecret('sandbox'), generateKeySecret('live')]) {
      expectErrorEnvelope(
        await raw('GET', '/v1/otp', { headers: { authorization: `Bearer ${made}` } }),
        401,
        'INVALID_API_KEY',
      );
    }
  });

  it('answers 401 before it validates the body', async () => {
    const res = await raw('POST', '/v1/otp/send', {
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ nonsense: true }),
    });
    expectErrorEnvelope(res, 401, 'INVALID_API_KEY');
  });
});

describe('documentation', () => {
  it('serves an OpenAPI 3.1 document of the API', async () => {
    const res = await raw('GET', '/openapi.json');
    expect(res.status).toBe(200);
    const doc = res.body;
    expect(doc.openapi).toMatch(/^3\.1\./);
    for (const path of [
      '/v1/otp/send',
      '/v1/otp/verify',
      '/v1/otp/resend',
      '/v1/otp/{id}/cancel',
      '/v1/otp/{id}',
      '/v1/otp/{id}/attempts',
      '/v1/otp',
      '/v1/logs',
      '/v1/rate-limits',
      '/admin/v1/accounts',
      '/admin/v1/apps/{id}',
      '/admin/v1/apps/{id}/keys',
      '/admin/v1/keys/{id}',
      '/admin/v1/inbox',
    ]) {
      expect(Object.keys(doc.paths)).toContain(path);
    }
    const send = doc.paths['/v1/otp/send'].post;
    expect(send.security).toEqual([{ apiKey: [] }]);
    expect(Object.keys(send.requestBody.content['application/json'].schema.properties)).toEqual(
      expect.arrayContaining([
        'phone',
        'channel',
        'reference',
        'metadata',
        'code_type',
        'code_length',
        'expiry',
        'max_attempts',
      ]),
    );
    expect(send.responses['201']).toBeDefined();
    expect(doc.paths['/admin/v1/accounts'].post.security).toEqual([{ operatorToken: [] }]);
    expect(doc.components.schemas.ErrorEnvelope.properties.error.properties.code.anyOf).toHaveLength(
      Object.keys(ERRORS).length,
    );
    expect(send.responses['4XX'].content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/ErrorEnvelope',
    });
    expect(Object.keys(doc.paths)).not.toContain('/healthz');
  });

  it('serves the interactive docs at /docs', async () => {
    let res = await raw('GET', '/docs');
    for (let hops = 0; res.status >= 300 && res.status < 400 && hops < 3; hops++) {
      const location = String(res.headers.location);
      res = await raw('GET', location.startsWith('/') ? location : `/docs/${location.replace(/^\.\//, '')}`);
    }
    expect(res.status).toBe(200);
    expect(String(res.headers['content-type'])).toContain('text/html');
    expect(res.text.toLowerCase()).toContain('swagger');
  });
});

describe('operations', () => {
  it('answers /healthz', async () => {
    const res = await raw('GET', '/healthz');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ success: true, data: { status: 'ok' } });
  });

  it('answers /readyz with the database it reached', async () => {
    const res = await raw('GET', '/readyz');
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ status: 'ready', database: backend });
  });

  it('exposes Prometheus metrics without any code, key or phone number', async () => {
    const live = await h.tenant({ environment: 'live' });
    const phone = '+9779841400030';
    const sent = await h.call('POST', '/v1/otp/send', { key: live.key, body: { phone } });
    expect(sent.status).toBe(201);
    const code = await codeFromInbox(h, phone);
    await h.call('POST', '/v1/otp/verify', {
      key: live.key,
      body: { otp_id: sent.body.data.otp_id, code: '000000' },
    });
    await h.call('POST', '/v1/otp/verify', { key: live.key, body: { otp_id: sent.body.data.otp_id, code } });

    const res = await raw('GET', '/metrics');
    expect(res.status).toBe(200);
    expect(String(res.headers['content-type'])).toContain('text/plain');
    expect(res.text).toMatch(/^# HELP otpd_/m);
    expect(res.text).toMatch(/^otpd_otp_sends_total\{/m);
    expect(res.text).toMatch(/^otpd_otp_verifications_total\{/m);
    expect(res.text).toMatch(/^otpd_http_request_duration_seconds_bucket\{/m);
    expect(res.text).toContain('route="/v1/otp/send"');
    expect(res.text).not.toContain(code);
    expect(res.text).not.toContain(live.key);
    expect(res.text).not.toContain(live.key.slice(10, 30));
    expect(res.text).not.toContain(sent.body.data.otp_id);
    expect(res.text).not.toContain('9779841400030');
  });

  it('labels unknown routes without their URL in metrics', async () => {
    await raw('GET', '/secret-path-abcdef123');
    const res = await raw('GET', '/metrics');
    expect(res.text).not.toContain('secret-path-abcdef123');
  });
});

describe('the dev inbox', () => {
  it('serves the inbox page as HTML', async () => {
    const res = await raw('GET', '/inbox');
    expect(res.status).toBe(200);
    expect(String(res.headers['content-type'])).toContain('text/html');
    expect(res.text).toContain('<title>otpd inbox</title>');
    // The page is its script: a syntax error in it would leave it blank.
    const script = res.text.match(/<script>([\s\S]*)<\/script>/)![1]!;
    expect(() => new Function(script)).not.toThrow();
  });

  it("lists an API key's own app's messages, and every app's with the operator token", async () => {
    const mine = await h.tenant();
    const other = await h.tenant({ environment: 'live' });
    await h.call('POST', '/v1/otp/send', { key: mine.key, body: { phone: '+9779841400040' } });
    await h.call('POST', '/v1/otp/send', { key: other.key, body: { phone: '+9779841400041' } });
    await h.deliver();

    const bearer = (k: string) => ({ headers: { authorization: `Bearer ${k}` } });
    const own = await raw('GET', '/inbox/messages', bearer(mine.key));
    expect(own.status).toBe(200);
    expect(own.body.data.items.map((m: { phone: string }) => m.phone)).toEqual(['+9779841400040']);
    expect(own.body.data.items[0].text).toContain('123456');

    const all = await raw('GET', '/inbox/messages', bearer(ADMIN_TOKEN));
    expect(all.body.data.items.map((m: { phone: string }) => m.phone)).toEqual(
      expect.arrayContaining(['+9779841400040', '+9779841400041']),
    );
    const filtered = await raw(
      'GET',
      `/inbox/messages?phone=${encodeURIComponent('+9779841400041')}`,
      bearer(ADMIN_TOKEN),
    );
    expect(filtered.body.data.items).toHaveLength(1);
  });

  it('refuses the inbox messages without a valid credential', async () => {
    for (const headers of [{}, { authorization: 'Bearer otpd_test_nope' }] as Record<string, string>[]) {
      const res = await raw('GET', '/inbox/messages', { headers });
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('INVALID_API_KEY');
    }
  });
});

describe('request logs', () => {
  it('never carry an API key, operator token, code or message text', async () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const logged = await createHarness({ logger: createLogger('trace', stream) });
    const live = await logged.tenant({ environment: 'live' });
    const phone = '+9779841400050';
    const sent = await logged.call('POST', '/v1/otp/send', { key: live.key, body: { phone } });
    const code = await codeFromInbox(logged, phone);
    await logged.call('POST', '/v1/otp/verify', {
      key: live.key,
      body: { otp_id: sent.body.data.otp_id, code },
    });
    await logged.call('GET', `/v1/otp?api_key=${live.key}&code=${code}`, { key: live.key });
    await logged.call('GET', '/v1/otp', { headers: { 'x-api-key': live.key } });
    await logged.call('GET', '/admin/v1/accounts', { headers: { authorization: basic(`:${ADMIN_TOKEN}`) } });
    const output = lines.join('');
    expect(output).toContain('incoming request');
    expect(output).not.toContain(live.key);
    expect(output).not.toContain(live.key.slice(10, 30));
    expect(output).not.toContain(ADMIN_TOKEN);
    expect(output).not.toContain(Buffer.from(`:${ADMIN_TOKEN}`).toString('base64'));
    expect(output).not.toContain(code);
    expect(output).not.toContain('verification code is');
  });
});
