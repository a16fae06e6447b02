import { type Insertable, type Selectable, sql } from 'kysely';
import type { Db, Store } from './db.js';
import { preparedInsert } from './prepared.js';
import type { InboxMessageTable, MessageTable } from './schema.js';

export type MessageRow = Selectable<MessageTable>;
export type InboxRow = Selectable<InboxMessageTable>;
/** A claimed message, with the status it had before the claim. */
export type ClaimedMessage = MessageRow & { was: 'queued' | 'sending' | 'unknown' };

const messageRow = preparedInsert('messages');

/** Every column, named (see OTP_COLUMNS in otps.ts for why). */
const MESSAGE_COLUMNS = [
  'id',
  'account_id',
  'app_id',
  'otp_id',
  'environment',
  'channel',
  'phone',
  'sender_id',
  'provider',
  'provider_message_id',
  'status',
  'error',
  'tries',
  'next_try_at',
  'text_ciphertext',
  'created_at',
  'updated_at',
  'sent_at',
  'kind',
  'country',
  'locale',
  'step',
  'provider_index',
  'provider_tries',
  'segments',
  'submitted_at',
  'delivered_at',
  'failed_at',
  'fallback_at',
] as const satisfies readonly (keyof MessageRow)[];
const messageColumnsComplete: Exclude<keyof MessageRow, (typeof MESSAGE_COLUMNS)[number]> extends never
  ? true
  : never = true;
void messageColumnsComplete;

export async function insertMessage(db: Db, row: Insertable<MessageTable>): Promise<void> {
  await messageRow(db, row);
}

/**
 * Claims due messages for one worker: queued ones whose time has come,
 * `unknown` ones whose wait for a receipt ran out, and claimed ones whose
 * lease ran out (their worker died). The claim moves `next_try_at` to the
 * lease's end, so one index serves every case, and that lease end is the
 * claim's token (see markSubmitting). On PostgreSQL `SKIP LOCKED` lets
 * workers on several processes claim disjoint batches; on SQLite the write
 * transaction makes the claim atomic.
 */
export async function claimDueMessages(
  store: Store,
  now: number,
  limit: number,
  leaseMs: number,
): Promise<ClaimedMessage[]> {
  return store.tx(async (trx) => {
    let due = trx
      .selectFrom('messages')
      .select(['id', 'status'])
      .where('status', 'in', ['queued', 'sending', 'unknown'])
      .where('next_try_at', '<=', now)
      .orderBy('next_try_at')
      .limit(limit);
    if (store.rowLocks) due = due.forUpdate().skipLocked();
    const found = await due.execute();
    if (found.length === 0) return [];
    const was = new Map(found.map((r) => [r.id, r.status]));
    const rows = await trx
      .updateTable('messages')
      .set((eb) => ({
        status: 'sending',
        tries: eb('tries', '+', 1),
        next_try_at: now + leaseMs,
        updated_at: now,
      }))
      .where(
        'id',
        'in',
        found.map((r) => r.id),
      )
      .returningAll()
      .execute();
    return rows.map((row) => ({ ...row, was: was.get(row.id) as ClaimedMessage['was'] }));
  });
}

/**
 * Records, before the request leaves, that these claimed messages go to
 * `provider`: if the process dies now, the next claim knows the provider may
 * have them and does not send them there again. `leaseEnd` is the claim's
 * token; answers the ids still held.
 */
export async function markSubmitting(
  db: Db,
  ids: string[],
  provider: string,
  leaseEnd: number,
  now: number,
): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await db
    .updateTable('messages')
    .set({ provider, submitted_at: now, updated_at: now })
    .where('id', 'in', ids)
    .where('status', '=', 'sending')
    .where('next_try_at', '=', leaseEnd)
    .returning('id')
    .execute();
  return new Set(rows.map((r) => r.id));
}

/*
 * Outcome writes name the claim they belong to (`claim` = the `tries` the
 * claim set): a worker whose lease ran out and whose message was claimed
 * again can no longer overwrite the newer claim's state.
 */

export interface SentMark {
  id: string;
  claim: number;
  provider: string;
  provider_message_id: string | null;
  status: 'sent' | 'delivered';
  segments: number | null;
  fallback_at: number | null;
  /** When the provider took it. */
  at: number;
}

/**
 * Marks claimed messages handed over, in one statement (one round trip on
 * PostgreSQL instead of one per message); each text copy is wiped. A late
 * answer still counts when the message only waits for news of it, and a
 * `sent` receipt that overtook the answer leaves the provider id to fill in.
 * Answers the rows it updated; a message missing from them no longer held
 * its claim. Rows are updated in id order (several workers lock alike).
 */
export async function markMessagesSent(db: Db, marks: SentMark[]): Promise<MessageRow[]> {
  if (marks.length === 0) return [];
  const sorted = [...marks].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  // Typed casts: PostgreSQL types a bare parameter in VALUES as text.
  const rows = sorted.map(
    (m) =>
      sql`(cast(${m.id} as text), cast(${m.claim} as bigint), cast(${m.provider} as text), cast(${m.provider_message_id} as text), cast(${m.status} as text), cast(${m.segments} as bigint), cast(${m.fallback_at} as bigint), cast(${m.at} as bigint))`,
  );
  const columns = sql.join(MESSAGE_COLUMNS.map((c) => sql.ref(c)));
  const result = await sql<MessageRow>`
    with v(v_id, v_claim, v_provider, v_pmid, v_status, v_segments, v_fallback_at, v_at) as (values ${sql.join(rows)})
    update messages set
      status = v.v_status,
      provider = v.v_provider,
      provider_message_id = v.v_pmid,
      segments = v.v_segments,
      error = null,
      text_ciphertext = null,
      sent_at = v.v_at,
      delivered_at = case when v.v_status = 'delivered' then v.v_at else null end,
      fallback_at = case when v.v_status = 'delivered' then null else v.v_fallback_at end,
      updated_at = v.v_at
    from v
    where messages.id = v.v_id
      and ((messages.status = 'sending' and messages.tries = v.v_claim)
        or (messages.status = 'sent' and messages.tries = v.v_claim and messages.provider = v.v_provider)
        or (messages.status = 'unknown' and messages.provider = v.v_provider))
    returning ${columns}`.execute(db);
  return result.rows;
}

/** Tries the same provider again at `at` (it did not take the message). */
export async function scheduleMessageRetry(
  db: Db,
  id: string,
  claim: number,
  error: string,
  at: number,
  now: number,
): Promise<boolean> {
  const row = await db
    .updateTable('messages')
    .set((eb) => ({
      status: 'queued',
      error,
      submitted_at: null,
      provider_tries: eb('provider_tries', '+', 1),
      next_try_at: at,
      updated_at: now,
    }))
    .where('id', '=', id)
    .where('status', '=', 'sending')
    .where('tries', '=', claim)
    .returning('id')
    .executeTakeFirst();
  return row !== undefined;
}

/** Hands the message to the next provider of its route, at once. */
export async function advanceMessageProvider(
  db: Db,
  id: string,
  claim: number,
  error: string,
  now: number,
): Promise<boolean> {
  const row = await db
    .updateTable('messages')
    .set((eb) => ({
      status: 'queued',
      error,
      submitted_at: null,
      provider_index: eb('provider_index', '+', 1),
      provider_tries: 0,
      next_try_at: now,
      updated_at: now,
    }))
    .where('id', '=', id)
    .where('status', '=', 'sending')
    .where('tries', '=', claim)
    .returning('id')
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * The request left and no answer came: the provider may have the message.
 * It waits for a receipt until `until`, then goes to the next provider.
 */
export async function markMessageUnknown(
  db: Db,
  id: string,
  claim: number,
  error: string,
  until: number,
  fallbackAt: number | null,
  now: number,
): Promise<boolean> {
  const row = await db
    .updateTable('messages')
    .set({ status: 'unknown', error, next_try_at: until, fallback_at: fallbackAt, updated_at: now })
    .where('id', '=', id)
    .where('status', '=', 'sending')
    .where('tries', '=', claim)
    .returning('id')
    .executeTakeFirst();
  return row !== undefined;
}

export async function markMessageFailed(db: Db, id: string, claim: number, error: string, now: number) {
  return db
    .updateTable('messages')
    .set({
      status: 'failed',
      error,
      text_ciphertext: null,
      failed_at: now,
      fallback_at: null,
      updated_at: now,
    })
    .where('id', '=', id)
    .where('status', '=', 'sending')
    .where('tries', '=', claim)
    .returningAll()
    .executeTakeFirst();
}

/** The message a receipt is about: by the provider's id, else by ours. */
/** Messages of one provider by the ids it gave them (receipts looked up together). */
export async function findByProviderIds(db: Db, provider: string, ids: string[]): Promise<MessageRow[]> {
  if (ids.length === 0) return [];
  return db
    .selectFrom('messages')
    .selectAll()
    .where('provider', '=', provider)
    .where('provider_message_id', 'in', ids)
    .execute();
}

export async function findMessageForReceipt(
  db: Db,
  provider: string,
  ref: { provider_message_id?: string | null; message_id?: string | null },
): Promise<MessageRow | undefined> {
  if (ref.message_id) {
    const row = await db
      .selectFrom('messages')
      .selectAll()
      .where('id', '=', ref.message_id)
      .executeTakeFirst();
    // An echoed id counts only for the provider it was sent to.
    if (row && (row.provider === provider || row.provider === null)) return row;
  }
  if (ref.provider_message_id) {
    return db
      .selectFrom('messages')
      .selectAll()
      .where('provider', '=', provider)
      .where('provider_message_id', '=', ref.provider_message_id)
      .executeTakeFirst();
  }
  return undefined;
}

/**
 * A message whose submit answer was lost: sent to `provider` for `phone`,
 * outcome unknown, no provider id yet; the oldest when several fit.
 */
export async function findUnsettledForPhone(
  db: Db,
  provider: string,
  phone: string,
): Promise<MessageRow | undefined> {
  // Several (an OTP's send and its resend, both answers lost): the oldest
  // submitted takes this receipt and the next receipt the next one. Dropping
  // the receipt instead had both sent again after reconcile_after (found by
  // the chaos harness).
  return db
    .selectFrom('messages')
    .selectAll()
    .where('provider', '=', provider)
    .where('phone', '=', phone)
    .where('status', 'in', ['unknown', 'sending'])
    .where('submitted_at', 'is not', null)
    .where('provider_message_id', 'is', null)
    .orderBy('submitted_at')
    .orderBy('id')
    .limit(1)
    .executeTakeFirst();
}

/**
 * Applies a receipt to a message that is not settled yet. A final status
 * (`delivered`, `failed`) is never overwritten, so receipts may come twice
 * or out of order.
 */
export async function applyReceipt(
  db: Db,
  id: string,
  receipt: {
    status: 'sent' | 'delivered' | 'failed';
    provider_message_id: string | null;
    error: string | null;
    at: number;
  },
  now: number,
): Promise<MessageRow | undefined> {
  const final = receipt.status !== 'sent';
  return db
    .updateTable('messages')
    .set((eb) => ({
      status: receipt.status,
      provider_message_id: eb.fn.coalesce('provider_message_id', eb.val(receipt.provider_message_id)),
      error: receipt.status === 'failed' ? receipt.error : null,
      text_ciphertext: null,
      sent_at: eb.fn.coalesce('sent_at', eb.val(receipt.at)),
      ...(receipt.status === 'delivered' ? { delivered_at: receipt.at, fallback_at: null } : {}),
      ...(receipt.status === 'failed' ? { failed_at: receipt.at, fallback_at: null } : {}),
      // A settled claim must not be taken again: push the due time out of reach.
      ...(final ? { next_try_at: Number.MAX_SAFE_INTEGER } : {}),
      updated_at: now,
    }))
    .where('id', '=', id)
    .where('status', 'in', final ? ['sending', 'sent', 'unknown'] : ['sending', 'unknown'])
    .returningAll()
    .executeTakeFirst();
}

/** Sent (or unknown) messages whose channel fallback is due. */
export async function dueFallbacks(db: Db, now: number, limit: number): Promise<MessageRow[]> {
  return db
    .selectFrom('messages')
    .selectAll()
    .where('fallback_at', '<=', now)
    .where('status', 'in', ['sent', 'unknown'])
    .orderBy('fallback_at')
    .limit(limit)
    .execute();
}

/** Takes a due fallback: only one caller wins it. */
export async function takeFallback(db: Db, row: MessageRow, now: number): Promise<boolean> {
  const won = await db
    .updateTable('messages')
    .set({ fallback_at: null, updated_at: now })
    .where('id', '=', row.id)
    .where('fallback_at', '=', row.fallback_at)
    .where('status', 'in', ['sent', 'unknown'])
    .returning('id')
    .executeTakeFirst();
  return won !== undefined;
}

/** Whether an OTP still has a message that may reach the user. */
export async function hasLiveMessage(db: Db, otpId: string, except: string): Promise<boolean> {
  const row = await db
    .selectFrom('messages')
    .select('id')
    .where('otp_id', '=', otpId)
    .where('id', '!=', except)
    .where('status', 'in', ['queued', 'sending', 'sent', 'delivered', 'unknown'])
    .executeTakeFirst();
  return row !== undefined;
}

export async function getMessage(db: Db, appId: string, id: string): Promise<MessageRow | undefined> {
  return db
    .selectFrom('messages')
    .selectAll()
    .where('id', '=', id)
    .where('app_id', '=', appId)
    .executeTakeFirst();
}

export async function listMessagesOfOtp(db: Db, otpId: string): Promise<MessageRow[]> {
  return db.selectFrom('messages').selectAll().where('otp_id', '=', otpId).orderBy('id').execute();
}

export async function countDueMessages(db: Db): Promise<number> {
  const row = await db
    .selectFrom('messages')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('status', 'in', ['queued', 'sending', 'unknown'])
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Seconds the oldest due message (queued and due now) has waited; 0 when none. */
export async function oldestDueAge(db: Db, now: number): Promise<number> {
  const row = await db
    .selectFrom('messages')
    .select('next_try_at')
    .where('status', '=', 'queued')
    .where('next_try_at', '<=', now)
    .orderBy('next_try_at')
    .limit(1)
    .executeTakeFirst();
  return row ? Math.max(0, (now - row.next_try_at) / 1000) : 0;
}

/** Idempotent on the message id: a redelivered message lands in the inbox once. */
export async function insertInboxMessage(db: Db, row: Insertable<InboxMessageTable>): Promise<void> {
  await inboxRow(db, row);
}

export type InboxInsert = Insertable<InboxMessageTable>;

/** insertInboxMessage for many rows in one statement. */
export async function insertInboxMessages(db: Db, rows: InboxInsert[]): Promise<void> {
  if (rows.length === 1) return insertInboxMessage(db, rows[0]!);
  await db
    .insertInto('inbox_messages')
    .values(rows)
    .onConflict((oc) => oc.column('message_id').doNothing())
    .execute();
}

const inboxRow = preparedInsert('inbox_messages', (q) =>
  q.onConflict((oc) => oc.column('message_id').doNothing()),
);

export async function listInbox(
  db: Db,
  filter: { phone?: string; appId?: string; limit: number },
): Promise<InboxRow[]> {
  let q = db.selectFrom('inbox_messages').selectAll().orderBy('id', 'desc').limit(filter.limit);
  if (filter.phone) q = q.where('phone', '=', filter.phone);
  if (filter.appId) q = q.where('app_id', '=', filter.appId);
  return q.execute();
}

/*
 * Releasing a claim at shutdown makes its lease end now, as if the process
 * had died and the lease run out, minus the wait. Fenced by what the claim
 * set (status `sending`, `tries`, the lease end): one taken again is left alone.
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
