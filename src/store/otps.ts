import { type Insertable, type Selectable, sql } from 'kysely';
import type { Db } from './db.js';
import { prepared, preparedInsert } from './prepared.js';
import type { OtpAttemptTable, OtpTable } from './schema.js';

export type OtpRow = Selectable<OtpTable>;
export type OtpAttemptRow = Selectable<OtpAttemptTable>;

/**
 * `'pending'` as a literal, not a parameter: SQLite can only use the partial
 * index `otps_one_pending` (… where status = 'pending') for a query whose
 * condition it can see at prepare time; with a parameter it scanned
 * `otps_pending_expiry` instead.
 */
const PENDING = sql.lit('pending');

/**
 * "This OTP is pending", for statements that find the OTP by its id, in a form
 * that no index on `status` can serve. Written as `status = 'pending'`,
 * PostgreSQL with statistics from a moment when few OTPs were pending (after
 * ANALYZE of a quiet table, before a burst) took the partial index of pending
 * OTPs and filtered every pending row for the id: 1.5 ms per verify at 5,000
 * pending, growing with the burst. This way only the primary key fits.
 * (`status` is never null: the coalesce changes nothing but the plan.)
 */
const IS_PENDING = sql<boolean>`coalesce(${sql.ref('status')}, '') = ${PENDING}`;

/**
 * Every column, named: a prepared statement that returns `*` would fail on
 * PostgreSQL once a migration adds a column while this process runs ("cached
 * plan must not change result type"); one with a list goes on working.
 */
const OTP_COLUMNS = [
  'id',
  'account_id',
  'app_id',
  'environment',
  'phone',
  'country',
  'channel',
  'status',
  'code_type',
  'code_length',
  'code_hmac',
  'code_ciphertext',
  'message',
  'sender_id',
  'locale',
  'attempts',
  'max_attempts',
  'resend_cooldown',
  'send_count',
  'last_sent_at',
  'expires_at',
  'reference',
  'metadata',
  'ip',
  'created_at',
  'updated_at',
  'verified_at',
  'ended_at',
] as const satisfies readonly (keyof OtpRow)[];
// Fails to compile when OtpTable gains a column the list lacks.
const otpColumnsComplete: Exclude<keyof OtpRow, (typeof OTP_COLUMNS)[number]> extends never ? true : never =
  true;
void otpColumnsComplete;

/** Terminal: the code is gone (its recoverable copy wiped) and nothing changes it again. */
const TERMINAL = { code_ciphertext: null } as const;

const expireDue = prepared<
  { app_id: string; phone: string; now: number },
  Pick<OtpRow, 'id' | 'account_id' | 'app_id'>
>((db, p) =>
  db
    .updateTable('otps')
    .set({ status: 'expired', ...TERMINAL, ended_at: p.now, updated_at: p.now })
    .where('app_id', '=', p.app_id)
    .where('phone', '=', p.phone)
    .where('status', '=', PENDING)
    .where('expires_at', '<=', p.now)
    .returning(['id', 'account_id', 'app_id']),
);

/** Turns pending OTPs of a phone whose time ran out into `expired`; answers their ids. */
export async function expireDuePending(db: Db, appId: string, phone: string, now: number) {
  return expireDue.all(db, { app_id: appId, phone, now });
}

/**
 * Inserts a pending OTP unless the phone already has one in this app. The
 * partial unique index on (app_id, phone) where pending is the race gate:
 * of parallel sends to one phone exactly one row goes in.
 */
const insertUnlessPending = preparedInsert('otps', (q) => q.onConflict((oc) => oc.doNothing()));

export async function insertOtpIfNoPending(db: Db, row: Insertable<OtpTable>): Promise<boolean> {
  return (await insertUnlessPending(db, row)) > 0;
}

const pendingOfPhone = prepared<{ app_id: string; phone: string }, OtpRow>((db, p) =>
  db
    .selectFrom('otps')
    .select(OTP_COLUMNS)
    .where('app_id', '=', p.app_id)
    .where('phone', '=', p.phone)
    .where('status', '=', PENDING),
);

export async function findPendingOtp(db: Db, appId: string, phone: string): Promise<OtpRow | undefined> {
  return pendingOfPhone.first(db, { app_id: appId, phone });
}

export async function findLatestOtpForPhone(
  db: Db,
  appId: string,
  phone: string,
): Promise<OtpRow | undefined> {
  return db
    .selectFrom('otps')
    .selectAll()
    .where('app_id', '=', appId)
    .where('phone', '=', phone)
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst();
}

const otpOfApp = prepared<{ app_id: string; id: string }, OtpRow>((db, p) =>
  db.selectFrom('otps').select(OTP_COLUMNS).where('app_id', '=', p.app_id).where('id', '=', p.id),
);

/**
 * Of these OTPs, the ids of those still pending (the worker skips messages of
 * the others). By primary key: with `status = ?` SQLite walked every pending
 * OTP for each batch, and the worker slowed down as pending OTPs piled up.
 */
export async function pendingAmong(db: Db, ids: string[], now: number): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const found = await db
    .selectFrom('otps')
    .select('id')
    .where('id', 'in', ids)
    .where(IS_PENDING)
    .where('expires_at', '>', now)
    .execute();
  return new Set(found.map((r) => r.id));
}

/** A pending OTP by id, with everything (its code's recoverable copy for a fallback message). */
export async function findPendingById(db: Db, id: string, now: number): Promise<OtpRow | undefined> {
  return db
    .selectFrom('otps')
    .select(OTP_COLUMNS)
    .where('id', '=', id)
    .where(IS_PENDING)
    .where('expires_at', '>', now)
    .executeTakeFirst();
}

export async function findOtp(db: Db, appId: string, id: string): Promise<OtpRow | undefined> {
  return otpOfApp.first(db, { app_id: appId, id });
}

/**
 * Counts one verification attempt before the code is compared. The guard makes
 * the count exact: of N parallel guesses at most `max_attempts` get a row back.
 */
export async function countAttempt(db: Db, id: string, now: number): Promise<OtpRow | undefined> {
  return attempt.first(db, { id, now });
}

const attempt = prepared<{ id: string; now: number }, OtpRow>((db, p) =>
  db
    .updateTable('otps')
    .set((eb) => ({ attempts: eb('attempts', '+', 1), updated_at: p.now }))
    .where('id', '=', p.id)
    .where(IS_PENDING)
    .where('expires_at', '>', p.now)
    .where((eb) => eb('attempts', '<', eb.ref('max_attempts')))
    .returning(OTP_COLUMNS),
);

/** The statements that find an OTP by id, for tests of their plans. */
export const otpByIdStatements = { countAttempt: () => attempt, consume: () => consume };

/** Consumes a pending OTP: of parallel correct submissions exactly one gets the row. */
export async function consumeOtp(db: Db, id: string, now: number): Promise<OtpRow | undefined> {
  return consume.first(db, { id, now });
}

const consume = prepared<{ id: string; now: number }, OtpRow>((db, p) =>
  db
    .updateTable('otps')
    .set({ status: 'verified', verified_at: p.now, ended_at: p.now, updated_at: p.now, ...TERMINAL })
    .where('id', '=', p.id)
    .where(IS_PENDING)
    .returning(OTP_COLUMNS),
);

/** Ends a pending OTP with `status` (expired, canceled, max_attempts, failed). */
export async function endOtp(
  db: Db,
  id: string,
  status: 'expired' | 'canceled' | 'max_attempts' | 'failed',
  now: number,
): Promise<OtpRow | undefined> {
  return db
    .updateTable('otps')
    .set({ status, ended_at: now, updated_at: now, ...TERMINAL })
    .where('id', '=', id)
    .where(IS_PENDING)
    .returningAll()
    .executeTakeFirst();
}

/** Records a resend if the cooldown has passed; the guard makes the cooldown exact. */
export async function recordResend(
  db: Db,
  id: string,
  channel: string,
  now: number,
): Promise<OtpRow | undefined> {
  return (
    db
      .updateTable('otps')
      .set((eb) => ({ send_count: eb('send_count', '+', 1), last_sent_at: now, channel, updated_at: now }))
      .where('id', '=', id)
      .where(IS_PENDING)
      .where('expires_at', '>', now)
      // The parameter stands alone on one side so that PostgreSQL types it bigint
      // (as `$1 - resend_cooldown * 1000` it was typed int4 and overflowed).
      .where((eb) => eb(eb('last_sent_at', '+', eb(eb.ref('resend_cooldown'), '*', 1000)), '<=', now))
      .returningAll()
      .executeTakeFirst()
  );
}

/**
 * Ends every pending OTP whose time ran out, a batch at a time; safe on every
 * process. Two statements, not `… where id in (select … limit n)`: given
 * statistics from when no OTP was pending, PostgreSQL planned that as a scan
 * of the table per row and ran past the statement timeout on 10,000 rows.
 */
export async function sweepExpired(db: Db, now: number, limit: number) {
  const due = await db
    .selectFrom('otps')
    .select('id')
    .where('status', '=', PENDING)
    .where('expires_at', '<=', now)
    .limit(limit)
    .execute();
  if (due.length === 0) return [];
  return db
    .updateTable('otps')
    .set({ status: 'expired', ended_at: now, updated_at: now, ...TERMINAL })
    .where(
      'id',
      'in',
      due.map((r) => r.id),
    )
    .where(IS_PENDING)
    .returning(['id', 'account_id', 'app_id'])
    .execute();
}

export interface OtpFilter {
  appId: string;
  status?: string;
  phone?: string;
  reference?: string;
  from?: number;
  to?: number;
  before?: string;
  limit: number;
  now: number;
}

/** Newest first. `expired` also finds pending rows whose time ran out before any sweep. */
export async function listOtps(db: Db, f: OtpFilter): Promise<OtpRow[]> {
  let q = db
    .selectFrom('otps')
    .selectAll()
    .where('app_id', '=', f.appId)
    .orderBy('id', 'desc')
    .limit(f.limit + 1);
  if (f.status === 'expired') {
    q = q.where((eb) =>
      eb.or([
        eb('status', '=', 'expired'),
        eb.and([eb('status', '=', PENDING), eb('expires_at', '<=', f.now)]),
      ]),
    );
  } else if (f.status === 'pending') {
    q = q.where('status', '=', PENDING).where('expires_at', '>', f.now);
  } else if (f.status) {
    q = q.where('status', '=', f.status);
  }
  if (f.phone) q = q.where('phone', '=', f.phone);
  if (f.reference) q = q.where('reference', '=', f.reference);
  if (f.from !== undefined) q = q.where('created_at', '>=', f.from);
  if (f.to !== undefined) q = q.where('created_at', '<', f.to);
  if (f.before) q = q.where('id', '<', f.before);
  return q.execute();
}

const attemptRow = preparedInsert('otp_attempts');

export async function insertAttempt(db: Db, row: Insertable<OtpAttemptTable>): Promise<void> {
  await attemptRow(db, row);
}

export async function listAttempts(db: Db, otpId: string): Promise<OtpAttemptRow[]> {
  return db.selectFrom('otp_attempts').selectAll().where('otp_id', '=', otpId).orderBy('id').execute();
}
