import { beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness, parallel, type Response, tally } from '../harness.js';
import { ORDER_BODY, siblingApp, submit } from '../support/templates.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});

const post = (key: string, body: unknown) => h.call('POST', '/v1/templates', { key, body });
const approve = (id: string) => h.admin('POST', `/admin/v1/templates/${id}/approve`);
const reject = (id: string, reason = 'Promotional content is not allowed.') =>
  h.admin('POST', `/admin/v1/templates/${id}/reject`, { reason });

function expectError(res: Response, status: number, code: string, field?: string): void {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.body.success).toBe(false);
  expect(res.body.error.code).toBe(code);
  expect(res.body.error.message).toEqual(expect.any(String));
  if (field !== undefined) expect(res.body.error.field).toBe(field);
}

async function logTypes(key: string): Promise<{ type: string; detail: Record<string, unknown> }[]> {
  const res = await h.call('GET', '/v1/logs?limit=100', { key });
  expect(res.status).toBe(200);
  return res.body.data.items;
}

describe('POST /v1/templates', () => {
  it('stores a pending template with its variables and logs the submission', async () => {
    const { key, app, accountId } = await h.tenant();
    const res = await post(key, { name: 'Order shipped', body: ORDER_BODY, use_case: 'Shipping notices' });
    expect(res.status).toBe(201);
    expect(res.body.success).toBe(true);
    const t = res.body.data;
    expect(t).toEqual({
      template_id: expect.stringMatching(/^tpl_[0-9A-Za-z]{22}$/),
      account_id: accountId,
      app_id: app.id,
      name: 'Order shipped',
      body: ORDER_BODY,
      use_case: 'Shipping notices',
      variables: ['order_id', 'delivery_date'],
      status: 'pending',
      rejection_reason: null,
      created_at: new Date(h.clock.now()).toISOString(),
      reviewed_at: null,
      deleted_at: null,
    });
    const [entry] = await logTypes(key);
    expect(entry).toMatchObject({ type: 'template.submitted', detail: { template_id: t.template_id } });
  });

  it('keeps line breaks, reading \\r\\n as \\n, and accepts spaces inside the braces', async () => {
    const { key } = await h.tenant();
    const t = await submit(h, key, { body: 'Order {{ order_id }} shipped.\r\nThank you.' });
    expect(t.body).toBe('Order {{ order_id }} shipped.\nThank you.');
    expect(t.variables).toEqual(['order_id']);
  });

  it.each([
    ['{{Name}}', 'Hello {{Name}}, your order shipped.'],
    ['{{1a}}', 'Hello {{1a}}, your order shipped.'],
    ['an unclosed {{', 'Hello {{name, your order shipped.'],
    ['a stray }}', 'Hello name}}, your order shipped.'],
    ['single braces', 'Hello {name}, your order shipped.'],
    ['triple braces', 'Hello {{{name}}}, your order shipped.'],
    ['a 33-character name', `Hello {{${'a'.repeat(33)}}}, your order shipped.`],
    ['an empty placeholder', 'Hello {{}}, your order shipped.'],
    ['http://', 'Track it at http://shop.example/track'],
    ['https://', 'Track it at https://shop.example/track'],
    ['www.', 'Track it at www.shopexample'],
    ['a bare domain', 'Track it at example.com'],
    ['a short link', 'Track it at bit.ly/x'],
    ['a domain made with a variable', 'Track it at {{shop}}.com'],
    ['only variables', '{{a}} {{b}}'],
    ['a control character', 'Your order\u0000 shipped'],
    ['a bidi override', 'Your order \u202Eshipped'],
    ['over 1,000 characters', 'x'.repeat(1001)],
  ])('refuses a body with %s: INVALID_REQUEST on body', async (_case, body) => {
    const { key } = await h.tenant();
    expectError(await post(key, { name: 'n', body, use_case: 'u' }), 400, 'INVALID_REQUEST', 'body');
  });

  it.each([
    ['name', { body: ORDER_BODY, use_case: 'u' }],
    ['body', { name: 'n', use_case: 'u' }],
    ['use_case', { name: 'n', body: ORDER_BODY }],
  ])('requires %s', async (field, body) => {
    const { key } = await h.tenant();
    expectError(await post(key, body), 400, 'INVALID_REQUEST', field);
  });

  it.each([
    ['name', { name: '   ' }],
    ['name', { name: 'x'.repeat(101) }],
    ['name', { name: 'two\nlines' }],
    ['name', { name: 42 }],
    ['use_case', { use_case: ' ' }],
    ['use_case', { use_case: 'x'.repeat(501) }],
    ['use_case', { use_case: 'bell\u0007' }],
    ['status', { status: 'approved' }],
  ])('refuses a bad %s: INVALID_REQUEST on it', async (field, fields) => {
    const { key } = await h.tenant();
    const res = await post(key, { name: 'n', body: ORDER_BODY, use_case: 'u', ...fields });
    expectError(res, 400, 'INVALID_REQUEST', field);
  });

  it('needs an API key', async () => {
    const res = await h.call('POST', '/v1/templates', {
      body: { name: 'n', body: ORDER_BODY, use_case: 'u' },
    });
    expectError(res, 401, 'INVALID_API_KEY');
  });
});

describe('reading and listing', () => {
  it('lists the account’s templates newest first, by status, page by page', async () => {
    const { key } = await h.tenant();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await submit(h, key, { name: `T${i}` })).template_id);
      h.clock.advance(1);
    }
    expect((await approve(ids[1]!)).status).toBe(200);
    expect((await reject(ids[2]!)).status).toBe(200);

    const first = await h.call('GET', '/v1/templates?limit=2', { key });
    expect(first.status).toBe(200);
    expect(first.body.data.items.map((t: { template_id: string }) => t.template_id)).toEqual([
      ids[4],
      ids[3],
    ]);
    const rest = await h.call('GET', `/v1/templates?limit=10&cursor=${first.body.data.next_cursor}`, { key });
    expect(rest.body.data.items.map((t: { template_id: string }) => t.template_id)).toEqual([
      ids[2],
      ids[1],
      ids[0],
    ]);
    expect(rest.body.data.next_cursor).toBeNull();

    const byStatus = async (status: string) =>
      (await h.call('GET', `/v1/templates?status=${status}`, { key })).body.data.items.map(
        (t: { template_id: string }) => t.template_id,
      );
    expect(await byStatus('pending')).toEqual([ids[4], ids[3], ids[0]]);
    expect(await byStatus('approved')).toEqual([ids[1]]);
    expect(await byStatus('rejected')).toEqual([ids[2]]);
    expectError(await h.call('GET', '/v1/templates?status=live', { key }), 400, 'INVALID_REQUEST', 'status');
  });

  it('reads one template, with the rejection reason once rejected', async () => {
    const { key } = await h.tenant();
    const t = await submit(h, key);
    expect((await reject(t.template_id, 'Looks promotional.')).status).toBe(200);
    const res = await h.call('GET', `/v1/templates/${t.template_id}`, { key });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({
      template_id: t.template_id,
      status: 'rejected',
      rejection_reason: 'Looks promotional.',
      reviewed_at: new Date(h.clock.now()).toISOString(),
    });
  });

  it('shares templates between the apps of one account', async () => {
    const { key, accountId } = await h.tenant();
    const t = await submit(h, key);
    const sibling = await siblingApp(h, accountId, 'live');
    const res = await h.call('GET', `/v1/templates/${t.template_id}`, { key: sibling.key });
    expect(res.status).toBe(200);
    const list = await h.call('GET', '/v1/templates', { key: sibling.key });
    expect(list.body.data.items.map((x: { template_id: string }) => x.template_id)).toEqual([t.template_id]);
  });
});

describe('another account', () => {
  it('cannot see, list or delete a template: TEMPLATE_NOT_FOUND, and nothing changes', async () => {
    const owner = await h.tenant();
    const stranger = await h.tenant();
    const t = await submit(h, owner.key);
    expectError(
      await h.call('GET', `/v1/templates/${t.template_id}`, { key: stranger.key }),
      404,
      'TEMPLATE_NOT_FOUND',
    );
    expectError(
      await h.call('DELETE', `/v1/templates/${t.template_id}`, { key: stranger.key }),
      404,
      'TEMPLATE_NOT_FOUND',
    );
    expect((await h.call('GET', '/v1/templates', { key: stranger.key })).body.data.items).toEqual([]);
    const still = await h.call('GET', `/v1/templates/${t.template_id}`, { key: owner.key });
    expect(still.body.data.status).toBe('pending');
  });

  it('answers an unknown or malformed id with TEMPLATE_NOT_FOUND', async () => {
    const { key } = await h.tenant();
    for (const id of ['tpl_nope', 'nothing', 'tpl_0000000000000000000000']) {
      expectError(await h.call('GET', `/v1/templates/${id}`, { key }), 404, 'TEMPLATE_NOT_FOUND');
      expectError(await h.call('DELETE', `/v1/templates/${id}`, { key }), 404, 'TEMPLATE_NOT_FOUND');
    }
  });
});

describe('operator review', () => {
  it('lists the review queue of every account and approves it', async () => {
    const a = await h.tenant();
    const b = await h.tenant();
    const ta = await submit(h, a.key);
    const tb = await submit(h, b.key);

    const queue = await h.admin('GET', '/admin/v1/templates?status=pending&limit=100');
    expect(queue.status).toBe(200);
    const ids = queue.body.data.items.map((t: { id: string }) => t.id);
    expect(ids).toEqual(expect.arrayContaining([ta.template_id, tb.template_id]));
    const item = queue.body.data.items.find((t: { id: string }) => t.id === ta.template_id);
    expect(item).toMatchObject({ id: ta.template_id, template_id: ta.template_id, account_id: a.accountId });

    const byAccount = await h.admin('GET', `/admin/v1/templates?account_id=${b.accountId}`);
    expect(byAccount.body.data.items.map((t: { id: string }) => t.id)).toEqual([tb.template_id]);

    h.clock.advance(60);
    const approved = await approve(ta.template_id);
    expect(approved.status).toBe(200);
    expect(approved.body.data).toMatchObject({
      id: ta.template_id,
      status: 'approved',
      reviewed_at: new Date(h.clock.now()).toISOString(),
      rejection_reason: null,
    });
    expect((await h.admin('GET', `/admin/v1/templates/${ta.template_id}`)).body.data.status).toBe('approved');
    const after = await h.admin('GET', '/admin/v1/templates?status=pending&limit=100');
    expect(after.body.data.items.map((t: { id: string }) => t.id)).not.toContain(ta.template_id);
    // The submitting app's log shows the review.
    const types = (await logTypes(a.key)).map((e) => e.type).filter((t) => t.startsWith('template.'));
    expect(types).toEqual(['template.approved', 'template.submitted']);
  });

  it('rejects with a reason the tenant sees, and logs it', async () => {
    const { key } = await h.tenant();
    const t = await submit(h, key);
    const res = await reject(t.template_id, 'Contains an offer.');
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ status: 'rejected', rejection_reason: 'Contains an offer.' });
    const [entry] = await logTypes(key);
    expect(entry).toMatchObject({
      type: 'template.rejected',
      detail: { template_id: t.template_id, reason: 'Contains an offer.' },
    });
  });

  it('answers a repeated approve or reject unchanged, and refuses the opposite with TEMPLATE_NOT_PENDING', async () => {
    const { key } = await h.tenant();
    const yes = await submit(h, key);
    const no = await submit(h, key);
    const first = await approve(yes.template_id);
    h.clock.advance(5);
    const again = await approve(yes.template_id);
    expect(again.status).toBe(200);
    expect(again.body.data).toEqual(first.body.data);
    expectError(await reject(yes.template_id), 409, 'TEMPLATE_NOT_PENDING');

    const rejected = await reject(no.template_id, 'First reason');
    expect((await reject(no.template_id, 'Other reason')).body.data).toEqual(rejected.body.data);
    expectError(await approve(no.template_id), 409, 'TEMPLATE_NOT_PENDING');
    expect((await h.call('GET', `/v1/templates/${no.template_id}`, { key })).body.data.status).toBe(
      'rejected',
    );
  });

  it('cannot approve a deleted template', async () => {
    const { key } = await h.tenant();
    const t = await submit(h, key);
    expect((await h.call('DELETE', `/v1/templates/${t.template_id}`, { key })).status).toBe(200);
    expectError(await approve(t.template_id), 409, 'TEMPLATE_NOT_PENDING');
    expectError(await reject(t.template_id), 409, 'TEMPLATE_NOT_PENDING');
  });

  it('answers unknown ids with TEMPLATE_NOT_FOUND and checks the reason', async () => {
    expectError(await approve('tpl_nope'), 404, 'TEMPLATE_NOT_FOUND');
    expectError(await reject('tpl_nope'), 404, 'TEMPLATE_NOT_FOUND');
    expectError(await h.admin('GET', '/admin/v1/templates/tpl_nope'), 404, 'TEMPLATE_NOT_FOUND');
    const { key } = await h.tenant();
    const t = await submit(h, key);
    expectError(
      await h.admin('POST', `/admin/v1/templates/${t.template_id}/reject`, {}),
      400,
      'INVALID_REQUEST',
      'reason',
    );
    expectError(
      await h.admin('POST', `/admin/v1/templates/${t.template_id}/reject`, { reason: '  ' }),
      400,
      'INVALID_REQUEST',
      'reason',
    );
  });

  it('needs the operator token: an API key is refused', async () => {
    const { key } = await h.tenant();
    const t = await submit(h, key);
    const res = await h.call('POST', `/admin/v1/templates/${t.template_id}/approve`, { key });
    expectError(res, 401, 'INVALID_ADMIN_TOKEN');
    expect((await h.call('GET', `/v1/templates/${t.template_id}`, { key })).body.data.status).toBe('pending');
  });

  it('lets exactly one of an approve and a reject fired together win', async () => {
    const { key } = await h.tenant();
    for (let i = 0; i < 5; i++) {
      const t = await submit(h, key);
      const [yes, no] = await Promise.all([approve(t.template_id), reject(t.template_id)]);
      const outcomes = [yes, no].map((r) => r.status).sort();
      expect(outcomes).toEqual([200, 409]);
      const final = (await h.call('GET', `/v1/templates/${t.template_id}`, { key })).body.data.status;
      expect(final).toBe(yes.status === 200 ? 'approved' : 'rejected');
    }
    const reviews = (await logTypes(key)).filter((e) => /approved|rejected/.test(e.type));
    expect(reviews).toHaveLength(5);
  });
});

describe('immutability', () => {
  it('has no way to edit a template: submit a new one instead', async () => {
    const { key } = await h.tenant();
    const t = await submit(h, key);
    await approve(t.template_id);
    for (const method of ['PATCH', 'POST'] as const) {
      const res = await h.call(method, `/v1/templates/${t.template_id}`, {
        key,
        body: { body: 'Your order {{order_id}} is at https://evil.example' },
      });
      expectError(res, 404, 'NOT_FOUND');
    }
    const res = await h.call('GET', `/v1/templates/${t.template_id}`, { key });
    expect(res.body.data).toMatchObject({ body: ORDER_BODY, status: 'approved' });
  });
});

describe('DELETE /v1/templates/{id}', () => {
  it('marks the template deleted, logs it once, and answers the same when repeated', async () => {
    const { key } = await h.tenant();
    const t = await submit(h, key);
    await approve(t.template_id);
    const res = await h.call('DELETE', `/v1/templates/${t.template_id}`, { key });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({
      template_id: t.template_id,
      status: 'deleted',
      deleted_at: new Date(h.clock.now()).toISOString(),
      reviewed_at: expect.any(String),
    });
    h.clock.advance(10);
    const again = await h.call('DELETE', `/v1/templates/${t.template_id}`, { key });
    expect(again.body.data).toEqual(res.body.data);
    expect((await h.call('GET', `/v1/templates/${t.template_id}`, { key })).body.data.status).toBe('deleted');
    const listed = await h.call('GET', '/v1/templates?status=deleted', { key });
    expect(listed.body.data.items.map((x: { template_id: string }) => x.template_id)).toEqual([
      t.template_id,
    ]);
    expect((await logTypes(key)).filter((e) => e.type === 'template.deleted')).toHaveLength(1);
  });
});

describe('at most 20 active templates per account', () => {
  it('refuses the 21st with TEMPLATE_LIMIT_REACHED; a reject or a delete frees a slot', async () => {
    const { key, accountId } = await h.tenant();
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push((await submit(h, key, { name: `T${i}` })).template_id);
    // Approved and pending both count.
    for (const id of ids.slice(0, 10)) await approve(id);
    expectError(
      await post(key, { name: 'T20', body: ORDER_BODY, use_case: 'u' }),
      409,
      'TEMPLATE_LIMIT_REACHED',
    );
    // The limit is the account's: its other apps are refused too.
    const sibling = await siblingApp(h, accountId);
    expectError(
      await post(sibling.key, { name: 'T20', body: ORDER_BODY, use_case: 'u' }),
      409,
      'TEMPLATE_LIMIT_REACHED',
    );
    // Another account is not affected.
    await submit(h, (await h.tenant()).key);

    await reject(ids[15]!);
    const refill = await submit(h, key, { name: 'after reject' });
    expectError(
      await post(key, { name: 'x', body: ORDER_BODY, use_case: 'u' }),
      409,
      'TEMPLATE_LIMIT_REACHED',
    );

    expect((await h.call('DELETE', `/v1/templates/${ids[0]}`, { key })).status).toBe(200);
    await submit(h, sibling.key, { name: 'after delete' });
    expectError(
      await post(key, { name: 'x', body: ORDER_BODY, use_case: 'u' }),
      409,
      'TEMPLATE_LIMIT_REACHED',
    );
    // Deleting the rejected one frees nothing: it held no slot.
    expect((await h.call('DELETE', `/v1/templates/${ids[15]}`, { key })).status).toBe(200);
    expectError(
      await post(key, { name: 'x', body: ORDER_BODY, use_case: 'u' }),
      409,
      'TEMPLATE_LIMIT_REACHED',
    );
    expect(refill.status).toBe('pending');
  });

  it('accepts exactly 20 of 21 submissions fired together', async () => {
    const { key } = await h.tenant();
    const results = await parallel(21, (i) =>
      post(key, { name: `Parallel ${i}`, body: ORDER_BODY, use_case: 'Shipping notices' }),
    );
    expect(tally(results)).toEqual({ '201': 20, '409 TEMPLATE_LIMIT_REACHED': 1 });
    const all = await h.call('GET', '/v1/templates?limit=100', { key });
    expect(all.body.data.items).toHaveLength(20);
  });

  it('holds the limit across the apps of an account fired together', async () => {
    const { key, accountId } = await h.tenant();
    const sibling = await siblingApp(h, accountId);
    const results = await parallel(24, (i) =>
      post(i % 2 === 0 ? key : sibling.key, { name: `P${i}`, body: ORDER_BODY, use_case: 'u' }),
    );
    expect(tally(results)).toEqual({ '201': 20, '409 TEMPLATE_LIMIT_REACHED': 4 });
  });
});
