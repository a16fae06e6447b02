import type { Insertable, Selectable } from 'kysely';
import type { Db, Store } from './db.js';
import type { InboxMessageTable, MessageTable } from './schema.js';

export type MessageRow = Selectable<MessageTable>;
export type InboxRow = Selectable<InboxMessageTable>;

export async function insertMessage(db: Db, row: Insertable<MessageTable>): Promise<void> {
  await db.insertInto('messages').values(row).execute();
}

/**
 * Claims due messages for one worker: queued ones whose time has come, and
 * claimed ones whose lease ran out (their worker died). The claim moves
 * `next_try_at` to the lease's end, so one index serves both cases. On
 * PostgreSQL `SKIP LOCKED` lets workers on several processes claim disjoint
 * batches; on SQLite the write transaction makes the claim atomic.
 */
export async function claimDueMessages(
  store: Store,
  now: number,
  limit: number,
  leaseMs: number,
): Promise<MessageRow[]> {
  return store.tx(async (trx) => {
    let due = trx
      .selectFrom('messages')
      .select('id')
      .where('status', 'in', ['queued', 'sending'])
      .where('next_try_at', '<=', now)
      .orderBy('next_try_at')
      .limit(limit);
    if (store.rowLocks) due = due.forUpdate().skipLocked();
    const ids = (await due.execute()).map((r) => r.id);
    if (ids.length === 0) return [];
    return trx
      .updateTable('messages')
      .set((eb) => ({
        status: 'sending',
        tries: eb('tries', '+', 1),
        next_try_at: now + leaseMs,
        updated_at: now,
      }))
      .where('id', 'in', ids)
      .returningAll()
      .execute();
  });
}

/** Marks a claimed message handed over; the text copy is wiped. */
/**
 * Outcome writes name the claim they belong to (`claim` = the `tries` the
 * claim set): a worker whose lease ran out and whose message was claimed
 * again can no longer overwrite the newer claim's state.
 */
export async function markMessageSent(
  db: Db,
  id: string,
  claim: number,
  result: { provider: string; provider_message_id: string | null; status: 'sent' | 'delivered' },
  now: number,
): Promise<MessageRow | undefined> {
  return db
    .updateTable('messages')
    .set({
      status: result.status,
      provider: result.provider,
      provider_message_id: result.provider_message_id,
      error: null,
      text_ciphertext: null,
      sent_at: now,
      updated_at: now,
    })
    .where('id', '=', id)
    .where('status', '=', 'sending')
    .where('tries', '=', claim)
    .returningAll()
    .executeTakeFirst();
}

export async function scheduleMessageRetry(
  db: Db,
  id: string,
  claim: number,
  error: string,
  at: number,
  now: number,
) {
  await db
    .updateTable('messages')
    .set({ status: 'queued', error, next_try_at: at, updated_at: now })
    .where('id', '=', id)
    .where('status', '=', 'sending')
    .where('tries', '=', claim)
    .execute();
}

export async function markMessageFailed(db: Db, id: string, claim: number, error: string, now: number) {
  return db
    .updateTable('messages')
    .set({ status: 'failed', error, text_ciphertext: null, updated_at: now })
    .where('id', '=', id)
    .where('status', '=', 'sending')
    .where('tries', '=', claim)
    .returningAll()
    .executeTakeFirst();
}

export async function countDueMessages(db: Db): Promise<number> {
  const row = await db
    .selectFrom('messages')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('status', 'in', ['queued', 'sending'])
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Idempotent on the message id: a redelivered message lands in the inbox once. */
export async function insertInboxMessage(db: Db, row: Insertable<InboxMessageTable>): Promise<void> {
  await db
    .insertInto('inbox_messages')
    .values(row)
    .onConflict((oc) => oc.column('message_id').doNothing())
    .execute();
}

export async function listInbox(
  db: Db,
  filter: { phone?: string; appId?: string; limit: number },
): Promise<InboxRow[]> {
  let q = db.selectFrom('inbox_messages').selectAll().orderBy('id', 'desc').limit(filter.limit);
  if (filter.phone) q = q.where('phone', '=', filter.phone);
  if (filter.appId) q = q.where('app_id', '=', filter.appId);
  return q.execute();
}
