import { beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness, parallel, type Response, tally } from '../harness.js';
import { approvedTemplate, siblingApp, submit } from '../support/templates.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});

let phones = 0;
/** A phone number no other test of this file uses (the inbox is shared by every tenant). */
const nextPhone = () => `+9779845${String(++phones).padStart(6, '0')}`;

const VARIABLES = { order_id: 'ORD-2024-0847', delivery_date: 'Jan 18, 2024' };
const RENDERED = 'Your order ORD-2024-0847 has been shipped. Expected delivery: Jan 18, 2024.';

const send = (key: string, body: Record<string, unknown>, headers?: Record<string, string>) =>
  h.call('POST', '/v1/sms/send', { key, body, headers });

function expectError(res: Response, status: number, code: string, field?: string): void {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.body.success).toBe(false);
  expect(res.body.error.code).toBe(code);
  expect(res.body.error.message).toEqual(expect.any(String));
  if (field !== undefined) expect(res.body.error.field).toBe(field);
}

function expectLimited(res: Response, scope: string, retryAfter: number): void {
  expectError(res, 429, 'RATE_LIMIT_EXCEEDED');
  expect(res.body.error).toMatchObject({ scope, retry_after: retryAfter });
  expect(res.headers['retry-after']).toBe(String(retryAfter));
}

async function countMessages(appId: string): Promise<number> {
  const rows = await h.ctx.store.db.selectFrom('messages').select('id').where('app_id', '=', appId).execute();
  return rows.length;
}

describe('POST /v1/sms/send', () => {
  it('queues the rendered message, delivers it to the inbox and reports it delivered', async () => {
    const { key, app } = await h.tenant();
    const templateId = await approvedTemplate(h, key);
    const phone = nextPhone();
    const res = await send(key, { phone, template_id: templateId, variables: VARIABLES });
    expect(res.status).toBe(201);
    expect(res.body.success).toBe(true);
    expect(res.body.data).toEqual({
      message_id: expect.stringMatching(/^msg_/),
      status: 'queued',
      phone,
      template_id: templateId,
      created_at: new Date(h.clock.now()).toISOString(),
    });
    const messageId = res.body.data.message_id as string;

    // Queued encrypted: the outbox row never holds the text in the clear.
    const row = await h.ctx.store.db
      .selectFrom('messages')
      .selectAll()
      .where('id', '=', messageId)
      .executeTakeFirstOrThrow();
    expect(row).toMatchObject({ kind: 'sms', otp_id: null, channel: 'sms', phone, app_id: app.id });
    expect(row.text_ciphertext).not.toContain('ORD-2024');

    const queued = await h.call('GET', `/v1/messages/${messageId}`, { key });
    expect(queued.body.data).toMatchObject({ message_id: messageId, status: 'queued', kind: 'sms' });

    await h.deliver();
    const [inboxed] = await h.inbox(phone);
    expect(inboxed).toMatchObject({ phone, channel: 'sms', text: RENDERED });

    const status = await h.call('GET', `/v1/messages/${messageId}`, { key });
    expect(status.status).toBe(200);
    expect(status.body.data).toMatchObject({
      message_id: messageId,
      otp_id: null,
      kind: 'sms',
      channel: 'sms',
      phone,
      status: 'delivered',
      provider: 'inbox',
    });
    expect(JSON.stringify(status.body)).not.toMatch(/ORD-2024|Jan 18|been shipped/);

    const logs = await h.call('GET', '/v1/logs?limit=100', { key });
    const entries = logs.body.data.items as { type: string; detail: Record<string, unknown> }[];
    const created = entries.find((e) => e.type === 'sms.created');
    expect(created?.detail).toEqual({ message_id: messageId, template_id: templateId });
    expect(entries.filter((e) => e.detail.message_id === messageId).map((e) => e.type)).toEqual([
      'message.delivered',
      'message.sent',
      'sms.created',
    ]);
    expect(JSON.stringify(logs.body)).not.toMatch(/ORD-2024|Jan 18|been shipped/);
    const stored = await h.ctx.store.db.selectFrom('activity_log').select('detail').execute();
    expect(JSON.stringify(stored)).not.toMatch(/ORD-2024/);
  });

  it('sends from a live app too (the inbox takes it with no provider configured)', async () => {
    const { key } = await h.tenant({ environment: 'live' });
    const templateId = await approvedTemplate(h, key, 'Hello {{name}}, your appointment is at {{time}}.');
    const phone = nextPhone();
    const res = await send(key, { phone, template_id: templateId, variables: { name: 'Sita', time: 1530 } });
    expect(res.status).toBe(201);
    await h.deliver();
    expect((await h.inbox(phone))[0]?.text).toBe('Hello Sita, your appointment is at 1530.');
  });

  it('sends a template without variables with or without an empty variables object', async () => {
    const { key } = await h.tenant();
    const templateId = await approvedTemplate(
      h,
      key,
      'Your password was changed. Contact support if it was not you.',
    );
    expect((await send(key, { phone: nextPhone(), template_id: templateId })).status).toBe(201);
    expect((await send(key, { phone: nextPhone(), template_id: templateId, variables: {} })).status).toBe(
      201,
    );
  });

  it('sends from any app of the template’s account', async () => {
    const { key, accountId } = await h.tenant();
    const templateId = await approvedTemplate(h, key);
    const sibling = await siblingApp(h, accountId, 'live');
    const phone = nextPhone();
    const res = await send(sibling.key, { phone, template_id: templateId, variables: VARIABLES });
    expect(res.status).toBe(201);
    await h.deliver();
    expect((await h.inbox(phone))[0]?.text).toBe(RENDERED);
  });
});

describe('the phone number', () => {
  it("reads a national number with the app's default country", async () => {
    const { key } = await h.tenant({ default_country: 'NP' });
    const templateId = await approvedTemplate(h, key);
    const res = await send(key, { phone: '9845999001', template_id: templateId, variables: VARIABLES });
    expect(res.status).toBe(201);
    expect(res.body.data.phone).toBe('+9779845999001');
  });

  it('refuses an invalid number with INVALID_PHONE_FORMAT', async () => {
    const { key } = await h.tenant();
    const templateId = await approvedTemplate(h, key);
    for (const phone of ['12345', '9845999002', 'not a phone']) {
      expectError(
        await send(key, { phone, template_id: templateId, variables: VARIABLES }),
        400,
        'INVALID_PHONE_FORMAT',
        'phone',
      );
    }
  });

  it('refuses a country outside allowed_countries with COUNTRY_NOT_ALLOWED', async () => {
    const { key } = await h.tenant({ allowed_countries: ['NP'] });
    const templateId = await approvedTemplate(h, key);
    const res = await send(key, { phone: '+14155550123', template_id: templateId, variables: VARIABLES });
    expectError(res, 403, 'COUNTRY_NOT_ALLOWED', 'phone');
  });

  it('refuses a landline with UNSUPPORTED_CHANNEL', async () => {
    const { key } = await h.tenant();
    const templateId = await approvedTemplate(h, key);
    const res = await send(key, { phone: '+97714200000', template_id: templateId, variables: VARIABLES });
    expectError(res, 400, 'UNSUPPORTED_CHANNEL', 'phone');
  });
});

describe('TEMPLATE_NOT_FOUND', () => {
  it('answers an unknown, foreign, pending, rejected or deleted template, and queues nothing', async () => {
    const { key, app } = await h.tenant();
    const other = await h.tenant();
    const foreign = await approvedTemplate(h, other.key);
    const pending = (await submit(h, key)).template_id;
    const rejected = (await submit(h, key)).template_id;
    await h.admin('POST', `/admin/v1/templates/${rejected}/reject`, { reason: 'No.' });
    const deleted = await approvedTemplate(h, key);
    expect((await h.call('DELETE', `/v1/templates/${deleted}`, { key })).status).toBe(200);

    const cases: [string, RegExp][] = [
      ['tpl_nope', /No template/],
      [foreign, /No template/],
      [pending, /pending approval/],
      [rejected, /rejected/],
      [deleted, /deleted/],
    ];
    for (const [templateId, message] of cases) {
      const res = await send(key, { phone: nextPhone(), template_id: templateId, variables: VARIABLES });
      expectError(res, 404, 'TEMPLATE_NOT_FOUND', 'template_id');
      expect(res.body.error.message).toMatch(message);
    }
    expect(await countMessages(app.id)).toBe(0);
  });

  it('turns a template deleted after a send into TEMPLATE_NOT_FOUND for the next send', async () => {
    const { key } = await h.tenant();
    const templateId = await approvedTemplate(h, key);
    expect(
      (await send(key, { phone: nextPhone(), template_id: templateId, variables: VARIABLES })).status,
    ).toBe(201);
    await h.call('DELETE', `/v1/templates/${templateId}`, { key });
    const res = await send(key, { phone: nextPhone(), template_id: templateId, variables: VARIABLES });
    expectError(res, 404, 'TEMPLATE_NOT_FOUND', 'template_id');
  });
});

describe('variables', () => {
  let key: string;
  let appId: string;
  let templateId: string;
  beforeAll(async () => {
    const t = await h.tenant();
    key = t.key;
    appId = t.app.id;
    templateId = await approvedTemplate(h, key);
  });
  const withVariables = (variables: unknown) =>
    send(key, { phone: nextPhone(), template_id: templateId, variables });

  it('refuses a missing variable with MISSING_VARIABLE on variables.<name>', async () => {
    const res = await withVariables({ order_id: 'ORD-1' });
    expectError(res, 400, 'MISSING_VARIABLE', 'variables.delivery_date');
    expect(res.body.error.message).toBe("Required variable 'delivery_date' is missing.");
    expectError(
      await send(key, { phone: nextPhone(), template_id: templateId }),
      400,
      'MISSING_VARIABLE',
      'variables.order_id',
    );
  });

  it('refuses an extra variable with UNKNOWN_VARIABLE on variables.<name>', async () => {
    const res = await withVariables({ ...VARIABLES, promo_code: 'SALE50' });
    expectError(res, 400, 'UNKNOWN_VARIABLE', 'variables.promo_code');
    expect(res.body.error.message).toBe("Variable 'promo_code' is not defined in the template.");
  });

  it.each([
    ['a URL', 'https://evil.example/x'],
    ['a bare domain', 'evil.com'],
    ['a short link', 'bit.ly/abc'],
    ['www.', 'www.evil'],
    ['a line break', 'ORD\n1'],
    ['a control character', 'ORD\u0007'],
    ['a bidi override', '\u202EORD'],
    ['129 characters', 'x'.repeat(129)],
    ['an empty string', ''],
    ['an object', { a: 1 }],
    ['a boolean', true],
    ['null', null],
  ])('refuses a value with %s: INVALID_VARIABLE on variables.order_id', async (_case, value) => {
    const res = await withVariables({ ...VARIABLES, order_id: value });
    expectError(res, 400, 'INVALID_VARIABLE', 'variables.order_id');
  });

  it('accepts a value of exactly 128 characters', async () => {
    const res = await withVariables({ ...VARIABLES, order_id: 'x'.repeat(128) });
    expect(res.status).toBe(201);
  });

  it('refuses a variables field that is not an object with INVALID_REQUEST', async () => {
    for (const variables of ['order_id', ['a'], 5]) {
      expectError(await withVariables(variables), 400, 'INVALID_REQUEST', 'variables');
    }
  });

  it('refuses a missing phone or template_id, or an unknown field, with INVALID_REQUEST', async () => {
    expectError(
      await send(key, { template_id: templateId, variables: VARIABLES }),
      400,
      'INVALID_REQUEST',
      'phone',
    );
    expectError(
      await send(key, { phone: nextPhone(), variables: VARIABLES }),
      400,
      'INVALID_REQUEST',
      'template_id',
    );
    expectError(
      await send(key, {
        phone: nextPhone(),
        template_id: templateId,
        variables: VARIABLES,
        text: 'free text',
      }),
      400,
      'INVALID_REQUEST',
      'text',
    );
  });

  it('queued nothing for any refused send', async () => {
    // Only the one 128-character send above went out.
    expect(await countMessages(appId)).toBe(1);
  });
});

describe('limits', () => {
  it('sms_phone_template_hour: 3 of 10 parallel sends to one phone and template, until the hour is over', async () => {
    const { key, app } = await h.tenant();
    const templateId = await approvedTemplate(h, key);
    const otherTemplate = await approvedTemplate(
      h,
      key,
      'Order {{order_id}} was delivered on {{delivery_date}}.',
    );
    const phone = nextPhone();
    const results = await parallel(10, () =>
      send(key, { phone, template_id: templateId, variables: VARIABLES }),
    );
    expect(tally(results)).toEqual({ '201': 3, '429 RATE_LIMIT_EXCEEDED': 7 });
    for (const res of results.filter((r) => r.status === 429)) {
      expectLimited(res, 'sms_phone_template_hour', 3600);
    }
    expect(await countMessages(app.id)).toBe(3);

    // Another phone, or another template to the same phone, has its own count.
    expect(
      (await send(key, { phone: nextPhone(), template_id: templateId, variables: VARIABLES })).status,
    ).toBe(201);
    expect((await send(key, { phone, template_id: otherTemplate, variables: VARIABLES })).status).toBe(201);

    h.clock.advance(3599);
    expectLimited(
      await send(key, { phone, template_id: templateId, variables: VARIABLES }),
      'sms_phone_template_hour',
      1,
    );
    h.clock.advance(1);
    expect((await send(key, { phone, template_id: templateId, variables: VARIABLES })).status).toBe(201);
  });

  it('sms_phone_template_hour spans the apps of the account (the template is the account’s)', async () => {
    const { key, accountId } = await h.tenant();
    const sibling = await siblingApp(h, accountId);
    const templateId = await approvedTemplate(h, key);
    const phone = nextPhone();
    for (const k of [key, sibling.key, key]) {
      expect((await send(k, { phone, template_id: templateId, variables: VARIABLES })).status).toBe(201);
    }
    expectLimited(
      await send(sibling.key, { phone, template_id: templateId, variables: VARIABLES }),
      'sms_phone_template_hour',
      3600,
    );
  });

  it('sms_key_day: with an override of 5, exactly 5 of 12 parallel sends pass', async () => {
    const { key, app } = await h.tenant({ limits: { sms_key_day: { max: 5, window: 86400 } } });
    const templateId = await approvedTemplate(h, key);
    const results = await parallel(12, () =>
      send(key, { phone: nextPhone(), template_id: templateId, variables: VARIABLES }),
    );
    expect(tally(results)).toEqual({ '201': 5, '429 RATE_LIMIT_EXCEEDED': 7 });
    for (const res of results.filter((r) => r.status === 429)) expectLimited(res, 'sms_key_day', 86400);
    expect(await countMessages(app.id)).toBe(5);

    h.clock.advance(86400);
    expect(
      (await send(key, { phone: nextPhone(), template_id: templateId, variables: VARIABLES })).status,
    ).toBe(201);
  });

  it('a send refused by one scope is not counted by the other', async () => {
    const { key } = await h.tenant({ limits: { sms_key_day: { max: 5, window: 86400 } } });
    const templateId = await approvedTemplate(h, key);
    const phone = nextPhone();
    const results = await parallel(10, () =>
      send(key, { phone, template_id: templateId, variables: VARIABLES }),
    );
    expect(tally(results)).toEqual({ '201': 3, '429 RATE_LIMIT_EXCEEDED': 7 });
    // 3 of 5 used: two more to other phones pass, the next is refused.
    for (let i = 0; i < 2; i++) {
      expect(
        (await send(key, { phone: nextPhone(), template_id: templateId, variables: VARIABLES })).status,
      ).toBe(201);
    }
    expectLimited(
      await send(key, { phone: nextPhone(), template_id: templateId, variables: VARIABLES }),
      'sms_key_day',
      86400,
    );
  });

  it('SMS sends do not count against the OTP limits, nor OTP sends against the SMS ones', async () => {
    const { key } = await h.tenant({
      limits: { key_minute: { max: 1, window: 60 }, sms_key_day: { max: 2, window: 86400 } },
    });
    const templateId = await approvedTemplate(h, key);
    for (let i = 0; i < 2; i++) {
      expect(
        (await send(key, { phone: nextPhone(), template_id: templateId, variables: VARIABLES })).status,
      ).toBe(201);
    }
    expect((await h.call('POST', '/v1/otp/send', { key, body: { phone: nextPhone() } })).status).toBe(201);
  });
});

describe('Idempotency-Key', () => {
  it('replays the first answer and sends once', async () => {
    const { key, app } = await h.tenant();
    const templateId = await approvedTemplate(h, key);
    const phone = nextPhone();
    const body = { phone, template_id: templateId, variables: VARIABLES };
    const first = await send(key, body, { 'idempotency-key': 'sms-1' });
    expect(first.status).toBe(201);
    const again = await send(key, body, { 'idempotency-key': 'sms-1' });
    expect(again.status).toBe(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toEqual(first.body);
    expectError(
      await send(
        key,
        { ...body, variables: { ...VARIABLES, order_id: 'ORD-2' } },
        { 'idempotency-key': 'sms-1' },
      ),
      422,
      'IDEMPOTENCY_KEY_REUSED',
    );
    await h.deliver();
    expect(await h.inbox(phone)).toHaveLength(1);
    expect(await countMessages(app.id)).toBe(1);
  });

  it('sends once when the same key arrives 5 times at once', async () => {
    const { key, app } = await h.tenant();
    const templateId = await approvedTemplate(h, key);
    const body = { phone: nextPhone(), template_id: templateId, variables: VARIABLES };
    const results = await parallel(5, () => send(key, body, { 'idempotency-key': 'sms-parallel' }));
    const ids = new Set(results.filter((r) => r.status === 201).map((r) => r.body.data.message_id));
    expect(ids.size).toBe(1);
    for (const r of results.filter((x) => x.status !== 201)) expectError(r, 409, 'IDEMPOTENCY_CONFLICT');
    expect(await countMessages(app.id)).toBe(1);
  });
});
