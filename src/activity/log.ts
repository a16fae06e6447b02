import type { Context } from '../context.js';
import { iso } from '../context.js';
import { newId } from '../core/ids.js';
import { type Page, pageOf } from '../core/pagination.js';
import { insertActivities, listActivityRows } from '../store/activity.js';
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

export interface NewActivity {
  account_id: string;
  app_id: string | null;
  type: ActivityType;
  otp_id?: string;
  key_id?: string;
  detail?: Record<string, unknown>;
}

/** Writes an entry inside the caller's transaction, so it exists iff the change does. */
export async function recordActivity(db: Db, now: number, entry: NewActivity): Promise<void> {
  await recordActivities(db, [{ at: now, ...entry }]);
}

/**
 * Writes entries (each with its own time) in one statement, then their
 * webhook events: a grouped write (the worker's handovers) logs a round of
 * messages with one round trip instead of one per entry.
 */
export async function recordActivities(db: Db, entries: (NewActivity & { at: number })[]): Promise<void> {
  const rows = entries.map((entry) => ({
    id: newId('act', entry.at),
    account_id: entry.account_id,
    app_id: entry.app_id,
    type: entry.type,
    otp_id: entry.otp_id ?? null,
    key_id: entry.key_id ?? null,
    detail: entry.detail ?? {},
    created_at: entry.at,
  }));
  await insertActivities(
    db,
    rows.map((row) => ({ ...row, detail: JSON.stringify(row.detail) })),
  );
  for (const row of rows) {
    await enqueueWebhookEvents(db, {
      id: row.id,
      account_id: row.account_id,
      app_id: row.app_id,
      type: row.type,
      otp_id: row.otp_id,
      detail: row.detail,
      created_at: row.created_at,
    });
  }
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
