import { type Insertable, type RawBuilder, sql } from 'kysely';
import { encodeBase62, type IdPrefix } from '../core/ids.js';
import type { Db } from './db.js';
import type { ReportRollupTable } from './schema-retention.js';

/** OTP statuses that never change again. */
const ENDED_OTP = ['verified', 'expired', 'canceled', 'max_attempts', 'failed'];
/** Messages whose delivery is over (`queued` and `sending` are still in the outbox's hands). */
const SETTLED_MESSAGE = ['sent', 'delivered', 'failed', 'unknown'];
const ENDED_WEBHOOK_DELIVERY = ['succeeded', 'failed', 'canceled'];

/**
 * The smallest id that `newId(prefix, ms)` can issue: ids are time-ordered
 * (8 base62 chars of milliseconds first, compared bytewise on both dialects),
 * so `id < idAt(prefix, ms)` is "created before ms", read from the primary key.
 */
export const idAt = (prefix: IdPrefix, ms: number): string => `${prefix}_${encodeBase62(BigInt(ms), 8)}`;

export interface PurgedOtp {
  id: string;
  account_id: string;
  app_id: string;
  created_at: number;
  country: string | null;
  channel: string;
  status: string;
}

export interface PurgedMessage {
  otp_id: string | null;
  account_id: string;
  app_id: string;
  created_at: number;
  country: string | null;
  channel: string;
  status: string;
  segments: number | null;
}

/**
 * Up to `limit` OTPs that may go: ended, expired before `before` (so every
 * message of theirs, created while they were pending, is older too), none of
 * their messages still in the outbox or holding a charge (the wallet sweeper
 * settles a hold through its message). Read through `otps_pending_expiry`.
 * With row locks (PostgreSQL) they stay locked to this transaction and
 * another purger skips them.
 */
export async function claimOldOtps(
  db: Db,
  before: number,
  limit: number,
  rowLocks: boolean,
): Promise<string[]> {
  const rows = await db
    .selectFrom('otps as o')
    .select('o.id')
    .where('o.status', 'in', ENDED_OTP)
    .where('o.expires_at', '<', before)
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('messages as m')
            .select('m.id')
            .whereRef('m.otp_id', '=', 'o.id')
            .where((m) =>
              m.or([
                m('m.status', 'not in', SETTLED_MESSAGE),
                m.exists(
                  m
                    .selectFrom('charges as c')
                    .select('c.message_id')
                    .whereRef('c.message_id', '=', 'm.id')
                    .where('c.state', '=', 'held'),
                ),
              ]),
            ),
        ),
      ),
    )
    .limit(limit)
    .$if(rowLocks, (q) => q.forUpdate(['o']).skipLocked())
    .execute();
  return rows.map((r) => r.id);
}

/** Deletes the OTPs `ids` with their verification attempts; answers exactly the OTPs this call deleted. */
export async function deleteOtps(db: Db, ids: string[]): Promise<{ otps: PurgedOtp[]; attempts: number }> {
  if (ids.length === 0) return { otps: [], attempts: 0 };
  const otps = await db
    .deleteFrom('otps')
    .where('id', 'in', ids)
    .returning(['id', 'account_id', 'app_id', 'created_at', 'country', 'channel', 'status'])
    .execute();
  if (otps.length === 0) return { otps, attempts: 0 };
  const attempts = await db
    .deleteFrom('otp_attempts')
    .where(
      'otp_id',
      'in',
      otps.map((o) => o.id),
    )
    .executeTakeFirst();
  return { otps, attempts: Number(attempts.numDeletedRows) };
}

const PURGED_MESSAGE = [
  'otp_id',
  'account_id',
  'app_id',
  'created_at',
  'country',
  'channel',
  'status',
  'segments',
] as const;

/** Deletes every message of the OTPs `otpIds`; answers what it deleted. */
export async function deleteMessagesOfOtps(db: Db, otpIds: string[]): Promise<PurgedMessage[]> {
  if (otpIds.length === 0) return [];
  return db.deleteFrom('messages').where('otp_id', 'in', otpIds).returning(PURGED_MESSAGE).execute();
}

/** Deletes the messages `ids`; answers the messages this call deleted. */
export async function deleteMessages(db: Db, ids: string[]): Promise<PurgedMessage[]> {
  if (ids.length === 0) return [];
  return db.deleteFrom('messages').where('id', 'in', ids).returning(PURGED_MESSAGE).execute();
}

const COUNTERS = [
  'otps',
  'otps_delivered',
  'otps_verified',
  'otps_failed',
  'otps_expired',
  'otps_canceled',
  'otps_max_attempts',
  'messages',
  'messages_delivered',
  'messages_failed',
  'segments',
] as const;

export type ReportRollup = Insertable<ReportRollupTable>;

/**
 * Adds `rows` to the rollups. Each (app, day, country, channel) at most
 * once per call: PostgreSQL refuses to update one row twice in a statement.
 */
export async function addRollups(db: Db, unsorted: ReportRollup[]): Promise<void> {
  // In key order: two purgers upserting shared rows in different orders deadlocked on PostgreSQL.
  const key = (r: ReportRollup) =>
    `${r.app_id}\u0000${String(r.day).padStart(12, '0')}\u0000${r.country}\u0000${r.channel}`;
  const rows = [...unsorted].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  // 16 values a row: well under either dialect's limit of bound parameters.
  for (let i = 0; i < rows.length; i += 500) {
    await db
      .insertInto('report_rollups')
      .values(rows.slice(i, i + 500))
      .onConflict((oc) =>
        oc
          .columns(['app_id', 'day', 'country', 'channel'])
          .doUpdateSet(
            Object.fromEntries(
              COUNTERS.map((c) => [
                c,
                sql<number>`${sql.ref(`report_rollups.${c}`)} + ${sql.ref(`excluded.${c}`)}`,
              ]),
            ),
          ),
      )
      .execute();
  }
}

/** Deletes the deliveries `ids` and their attempts; answers how many rows went. */
export async function deleteWebhookDeliveries(db: Db, ids: string[]): Promise<number> {
  if (ids.length === 0) return 0;
  const attempts = await db.deleteFrom('webhook_attempts').where('delivery_id', 'in', ids).executeTakeFirst();
  const deliveries = await db.deleteFrom('webhook_deliveries').where('id', 'in', ids).executeTakeFirst();
  return Number(attempts.numDeletedRows) + Number(deliveries.numDeletedRows);
}

/** Tables whose old rows are found by id (ids are time-ordered, see idAt). */
export type ScannedTable =
  | 'messages'
  | 'webhook_deliveries'
  | 'webhook_events'
  | 'activity_log'
  | 'inbox_messages'
  | 'mail_outbox'
  | 'user_tokens';

const list = (values: string[]) => sql.join(values.map((v) => sql.lit(v)));

/**
 * Per table: its id prefix, which rows are scanned at all, and which of
 * those may go (`go`). The conditions on state are computed, not filtered
 * on: a filter on `status` would let a planner without statistics prefer
 * the outbox indexes (`messages_due`, `webhook_deliveries_due`) and read
 * every row of that status instead of the old ids.
 */
const SCANS: Record<
  ScannedTable,
  { prefix: IdPrefix; only?: RawBuilder<unknown>; go(before: number): RawBuilder<unknown> }
> = {
  // Template SMS (OTP messages go with their OTP): delivery over, no charge held.
  messages: {
    prefix: 'msg',
    only: sql`and t.kind = 'sms'`,
    go: () =>
      sql`t.status in (${list(SETTLED_MESSAGE)}) and not exists (select 1 from charges c where c.message_id = t.id and c.state = 'held')`,
  },
  // Deliveries that will not be tried again and were not replayed lately.
  webhook_deliveries: {
    prefix: 'whd',
    go: (before) => sql`t.status in (${list(ENDED_WEBHOOK_DELIVERY)}) and t.updated_at < ${before}`,
  },
  // Events that no delivery refers to any more.
  webhook_events: {
    prefix: 'evt',
    go: () => sql`not exists (select 1 from webhook_deliveries d where d.event_id = t.id)`,
  },
  activity_log: { prefix: 'act', go: () => sql`1 = 1` },
  inbox_messages: { prefix: 'inb', go: () => sql`1 = 1` },
  // Mail still queued stays.
  mail_outbox: { prefix: 'mal', go: () => sql`t.status <> 'queued'` },
  // Links still valid stay.
  user_tokens: { prefix: 'utk', go: (before) => sql`t.expires_at < ${before}` },
};

/**
 * The next `limit` rows of `table` created before `before`, by id after
 * `after`, each with whether it may go. A range scan of the primary key
 * (of `messages_sms` for messages). With row locks (PostgreSQL) they stay
 * locked to this transaction and another purger skips them.
 */
export async function scanOldRows(
  db: Db,
  table: ScannedTable,
  range: { after: string; before: number; limit: number; rowLocks: boolean },
): Promise<{ id: string; go: boolean }[]> {
  const scan = SCANS[table];
  const { rows } = await sql<{
    id: string;
    go: number;
  }>`select t.id, case when ${scan.go(range.before)} then 1 else 0 end as go
    from ${sql.table(table)} t
    where t.id > ${range.after} and t.id < ${idAt(scan.prefix, range.before)} ${scan.only ?? sql``}
    order by t.id limit ${range.limit} ${range.rowLocks ? sql`for update skip locked` : sql``}`.execute(db);
  return rows.map((r) => ({ id: r.id, go: Number(r.go) === 1 }));
}

/** Deletes the rows `ids` of `table`; answers how many went. */
export async function deleteRows(
  db: Db,
  table: Exclude<ScannedTable, 'messages' | 'webhook_deliveries'>,
  ids: string[],
): Promise<number> {
  if (ids.length === 0) return 0;
  const result = await db.deleteFrom(table).where('id', 'in', ids).executeTakeFirst();
  return Number(result.numDeletedRows);
}
