import type { Db } from '../store/db.js';

/*
 * Handing claims back at shutdown. A claim is fenced by what it set: the
 * status `sending`, its `tries` and its lease end (`next_try_at`). Releasing
 * one makes its lease end now, exactly as if the process had died and the
 * lease had run out, minus the wait: the next claim (here after a restart,
 * or on another process at once) decides what to do with the row as it
 * does after a crash. A claim taken again meanwhile is left alone.
 */

/**
 * Messages claimed by a worker that is stopping and never handed to a
 * provider (no submit mark was asked for them): due again now.
 */
export async function releaseMessageClaims(
  db: Db,
  claims: { id: string; tries: number }[],
  leaseEnd: number,
  now: number,
): Promise<number> {
  let released = 0;
  for (const claim of claims) {
    const row = await db
      .updateTable('messages')
      .set({ next_try_at: now, updated_at: now })
      .where('id', '=', claim.id)
      .where('status', '=', 'sending')
      .where('tries', '=', claim.tries)
      .where('next_try_at', '=', leaseEnd)
      .returning('id')
      .executeTakeFirst();
    if (row) released++;
  }
  return released;
}

/**
 * Webhook deliveries whose attempt a stopping dispatcher gives up waiting
 * for: due again now, the attempt not counted (none was recorded). The
 * receiver may have had the request already; webhooks are at-least-once
 * and carry the same `webhook-id` every time.
 */
export async function releaseWebhookClaims(
  db: Db,
  claims: { id: string; tries: number; leaseEnd: number }[],
  now: number,
): Promise<number> {
  let released = 0;
  for (const claim of claims) {
    const row = await db
      .updateTable('webhook_deliveries')
      .set((eb) => ({ attempts: eb('attempts', '-', 1), next_try_at: now, updated_at: now }))
      .where('id', '=', claim.id)
      .where('status', '=', 'sending')
      .where('tries', '=', claim.tries)
      .where('next_try_at', '=', claim.leaseEnd)
      .returning('id')
      .executeTakeFirst();
    if (row) released++;
  }
  return released;
}
