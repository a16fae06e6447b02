import { expect } from 'vitest';
import type { Harness } from '../harness.js';

/** Test helpers for transactional SMS templates. */

export const ORDER_BODY = 'Your order {{order_id}} has been shipped. Expected delivery: {{delivery_date}}.';

export async function submit(
  h: Harness,
  key: string,
  fields: { name?: string; body?: string; use_case?: string } = {},
) {
  const res = await h.call('POST', '/v1/templates', {
    key,
    body: { name: 'Order shipped', body: ORDER_BODY, use_case: 'Shipping notices', ...fields },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.data as { template_id: string; status: string; variables: string[]; body: string };
}

/** A template of the key's account, submitted and approved. */
export async function approvedTemplate(h: Harness, key: string, body = ORDER_BODY): Promise<string> {
  const { template_id } = await submit(h, key, { body });
  const res = await h.admin('POST', `/admin/v1/templates/${template_id}/approve`);
  expect(res.status).toBe(200);
  return template_id;
}

/** Another app (with its key) in an existing account. */
export async function siblingApp(
  h: Harness,
  accountId: string,
  environment: 'sandbox' | 'live' = 'sandbox',
): Promise<{ appId: string; key: string }> {
  const app = await h.admin('POST', '/admin/v1/apps', {
    account_id: accountId,
    name: 'Sibling',
    environment,
  });
  expect(app.status).toBe(201);
  const key = await h.admin('POST', `/admin/v1/apps/${app.body.data.id}/keys`);
  expect(key.status).toBe(201);
  return { appId: app.body.data.id, key: key.body.data.secret };
}
