import type { Context } from '../context.js';
import { iso } from '../context.js';
import { newId } from '../core/ids.js';
import { type Page, pageOf } from '../core/pagination.js';
import { insertActivity, listActivityRows } from '../store/activity.js';
import type { Db } from '../store/db.js';
import { enqueueWebhookEvents } from '../webhooks/events.js';

/** Event types of the activity log. */
export type ActivityType =
  | 'app.created'
  | 'app.updated'
  | 'key.created'
  | 'key.revoked'
  | 'otp.created'
  | 'otp.resent'
  | 'otp.verified'
  | 'otp.verification_failed'
  | 'otp.max_attempts'
  | 'otp.canceled'
  | 'otp.expired'
  | 'otp.failed'
  | 'otp.ussd_read'
  | 'message.sent'
  | 'message.delivered'
  | 'message.failed'
  | 'message.fallback'
  | 'template.submitted'
  | 'template.approved'
  | 'template.rejected'
  | 'template.deleted'
  | 'sms.created'
  | 'wallet.topup'
  | 'wallet.adjusted'
  | 'balance.low'
  | 'webhook.disabled';

export interface ActivityEntry {
  id: string;
  type: ActivityType;
  app_id: string | null;
  otp_id: string | null;
  key_id: string | null;
  detail: Record<string, unknown>;
  created_at: string;
}

/** Writes an entry inside the caller's transaction, so it exists iff the change does. */
export async function recordActivity(
  db: Db,
  now: number,
  entry: {
    account_id: string;
    app_id: string | null;
    type: ActivityType;
    otp_id?: string;
    key_id?: string;
    detail?: Record<string, unknown>;
  },
): Promise<void> {
  const id = newId('act', now);
  const detail = entry.detail ?? {};
  await insertActivity(db, {
    id,
    account_id: entry.account_id,
    app_id: entry.app_id,
    type: entry.type,
    otp_id: entry.otp_id ?? null,
    key_id: entry.key_id ?? null,
    detail: JSON.stringify(detail),
    created_at: now,
  });
  await enqueueWebhookEvents(db, {
    id,
    account_id: entry.account_id,
    app_id: entry.app_id,
    type: entry.type,
    otp_id: entry.otp_id ?? null,
    detail,
    created_at: now,
  });
}

export async function listActivity(
  ctx: Context,
  appId: string,
  filter: { type?: string; otp_id?: string; from?: number; to?: number; cursor?: string; limit: number },
): Promise<Page<ActivityEntry>> {
  const rows = await listActivityRows(ctx.store.db, {
    appId,
    type: filter.type,
    otpId: filter.otp_id,
    from: filter.from,
    to: filter.to,
    before: filter.cursor,
    limit: filter.limit,
  });
  return pageOf(rows, filter.limit, (row) => ({
    id: row.id,
    type: row.type as ActivityType,
    app_id: row.app_id,
    otp_id: row.otp_id,
    key_id: row.key_id,
    detail: JSON.parse(row.detail) as Record<string, unknown>,
    created_at: iso(row.created_at)!,
  }));
}
