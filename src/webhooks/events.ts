import type { Db } from '../store/db.js';

/** An activity entry as written, in the caller's transaction. */
export interface ActivityEvent {
  id: string;
  account_id: string;
  app_id: string | null;
  type: string;
  otp_id: string | null;
  detail: Record<string, unknown>;
  created_at: number;
}

/**
 * Queues the webhook events an activity entry causes, in the same
 * transaction as the change (so an event exists exactly when its change does).
 */
export async function enqueueWebhookEvents(_db: Db, _event: ActivityEvent): Promise<void> {}
