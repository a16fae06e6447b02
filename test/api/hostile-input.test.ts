import { beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness } from '../harness.js';

let h: Harness;
let key: string;
beforeAll(async () => {
  h = await createHarness();
  ({ key } = await h.tenant());
});

const nested = (depth: number): unknown => {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = [value];
  return value;
};

describe('input that a schema alone cannot catch', () => {
  it.each([
    ['reference', { phone: '+9779841600001', reference: 'a\u0000b' }],
    ['sender_id', { phone: '+9779841600001', sender_id: 'A\u0000' }],
    ['ip', { phone: '+9779841600001', ip: '1.2.3.4\u0000' }],
    ['metadata.note', { phone: '+9779841600001', metadata: { note: 'x\u0000' } }],
  ])('refuses a NUL character in %s with INVALID_REQUEST', async (field, body) => {
    const res = await h.call('POST', '/v1/otp/send', { key, body });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'INVALID_REQUEST', field });
  });

  it.each([
    ['/v1/otp/otp_%00', 'id'],
    ['/v1/otp?cursor=%00', 'query.cursor'],
    ['/v1/logs?type=%00', 'query.type'],
    ['/v1/rate-limits?ip=a%00b', 'query.ip'],
  ])('refuses a NUL character in GET %s', async (url, field) => {
    const res = await h.call('GET', url, { key });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'INVALID_REQUEST', field });
  });

  it('refuses a NUL character in an admin body', async () => {
    const res = await h.admin('POST', '/admin/v1/accounts', { name: 'a\u0000' });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'INVALID_REQUEST', field: 'name' });
  });

  it('refuses metadata nested deeper than 32 levels, with or without an Idempotency-Key', async () => {
    // Written by hand: JSON.stringify itself would overflow on this.
    const body = `{"phone":"+9779841600002","metadata":{"a":${'['.repeat(20_000)}1${']'.repeat(20_000)}}}`;
    for (const extra of [{}, { 'idempotency-key': 'deep-1' }] as Record<string, string>[]) {
      const headers = { 'content-type': 'application/json', ...extra };
      const res = await h.call('POST', '/v1/otp/send', { key, body, headers });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('INVALID_REQUEST');
    }
    const shallow = await h.call('POST', '/v1/otp/send', {
      key,
      body: { phone: '+9779841600002', metadata: { a: nested(10) } },
    });
    expect(shallow.status).toBe(201);
  });

  it('refuses a time that Date cannot read (a leap second) with INVALID_REQUEST', async () => {
    for (const url of ['/v1/otp?from=2016-12-31T23:59:60Z', '/v1/logs?to=2016-12-31T23:59:60Z']) {
      const res = await h.call('GET', url, { key });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('INVALID_REQUEST');
    }
  });

  it('answers a URL it cannot decode with the envelope', async () => {
    const res = await h.call('GET', '/v1/otp/%ZZ', { key });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ success: false, error: { code: 'INVALID_REQUEST' } });
    expect(res.body.request_id).toMatch(/^req_/);
  });
});
