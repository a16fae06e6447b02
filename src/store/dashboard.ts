import type { Insertable, Selectable, Updateable } from 'kysely';
import type { Db } from './db.js';
import type { InboxRow } from './messages.js';
import type {
  LiveRequestTable,
  MailTable,
  RecoveryCodeTable,
  SessionTable,
  UserTable,
  UserTokenTable,
} from './schema-dashboard.js';

export type UserRow = Selectable<UserTable>;
export type SessionRow = Selectable<SessionTable>;
export type MailRow = Selectable<MailTable>;
export type LiveRequestRow = Selectable<LiveRequestTable>;

/** Inserts a user unless the email is taken; answers undefined when it was (the unique index is the race gate). */
export async function insertUserIfNew(db: Db, row: Insertable<UserTable>): Promise<UserRow | undefined> {
  return db
    .insertInto('users')
    .values(row)
    .onConflict((oc) => oc.column('email').doNothing())
    .returningAll()
    .executeTakeFirst();
}

export async function findUserByEmail(db: Db, email: string): Promise<UserRow | undefined> {
  return db.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst();
}

export async function findUser(db: Db, id: string): Promise<UserRow | undefined> {
  return db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function updateUser(
  db: Db,
  id: string,
  changes: Updateable<UserTable>,
): Promise<UserRow | undefined> {
  return db.updateTable('users').set(changes).where('id', '=', id).returningAll().executeTakeFirst();
}

export async function listUsersOfAccount(db: Db, accountId: string): Promise<UserRow[]> {
  return db.selectFrom('users').selectAll().where('account_id', '=', accountId).orderBy('id').execute();
}

/**
 * Moves a user's last accepted TOTP step forward; answers false when `step`
 * is not newer. The guarded update is the replay gate: of two logins with
 * the same code, one passes.
 */
export async function advanceTotpStep(db: Db, userId: string, step: number, now: number): Promise<boolean> {
  const result = await db
    .updateTable('users')
    .set({ totp_last_step: step, updated_at: now })
    .where('id', '=', userId)
    .where((eb) => eb.or([eb('totp_last_step', 'is', null), eb('totp_last_step', '<', step)]))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

export async function insertRecoveryCodes(db: Db, rows: Insertable<RecoveryCodeTable>[]): Promise<void> {
  if (rows.length > 0) await db.insertInto('user_recovery_codes').values(rows).execute();
}

export async function deleteRecoveryCodes(db: Db, userId: string): Promise<void> {
  await db.deleteFrom('user_recovery_codes').where('user_id', '=', userId).execute();
}

/** Uses a recovery code once: the guarded update is the race gate. */
export async function useRecoveryCode(db: Db, userId: string, hash: string, now: number): Promise<boolean> {
  const result = await db
    .updateTable('user_recovery_codes')
    .set({ used_at: now })
    .where('user_id', '=', userId)
    .where('hash', '=', hash)
    .where('used_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

export async function countUnusedRecoveryCodes(db: Db, userId: string): Promise<number> {
  const row = await db
    .selectFrom('user_recovery_codes')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('user_id', '=', userId)
    .where('used_at', 'is', null)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function insertSession(db: Db, row: Insertable<SessionTable>): Promise<SessionRow> {
  return db.insertInto('dashboard_sessions').values(row).returningAll().executeTakeFirstOrThrow();
}

export async function findSessionByToken(db: Db, tokenHash: string) {
  return db
    .selectFrom('dashboard_sessions')
    .innerJoin('users', 'users.id', 'dashboard_sessions.user_id')
    .selectAll('users')
    .select([
      'dashboard_sessions.id as session_id',
      'dashboard_sessions.second_factor_done',
      'dashboard_sessions.last_seen_at',
      'dashboard_sessions.expires_at',
      'dashboard_sessions.created_at as session_created_at',
    ])
    .where('dashboard_sessions.token_hash', '=', tokenHash)
    .executeTakeFirst();
}

export async function touchSession(db: Db, id: string, now: number, expiresAt: number): Promise<void> {
  await db
    .updateTable('dashboard_sessions')
    .set({ last_seen_at: now, expires_at: expiresAt })
    .where('id', '=', id)
    .execute();
}

export async function deleteSession(db: Db, id: string): Promise<void> {
  await db.deleteFrom('dashboard_sessions').where('id', '=', id).execute();
}

export async function deleteSessionsOfUser(db: Db, userId: string, except?: string): Promise<void> {
  let q = db.deleteFrom('dashboard_sessions').where('user_id', '=', userId);
  if (except) q = q.where('id', '!=', except);
  await q.execute();
}

export async function deleteExpiredSessions(db: Db, now: number): Promise<void> {
  await db.deleteFrom('dashboard_sessions').where('expires_at', '<=', now).execute();
}

export async function insertUserToken(db: Db, row: Insertable<UserTokenTable>): Promise<void> {
  await db.insertInto('user_tokens').values(row).execute();
}

/** Uses a mailed link once, if it is still valid: the guarded update is the race gate. */
export async function useUserToken(
  db: Db,
  purpose: string,
  tokenHash: string,
  now: number,
): Promise<string | undefined> {
  const row = await db
    .updateTable('user_tokens')
    .set({ used_at: now })
    .where('token_hash', '=', tokenHash)
    .where('purpose', '=', purpose)
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .returning('user_id')
    .executeTakeFirst();
  return row?.user_id;
}

/** Ends a user's other links of one purpose (a reset link is void once the password changed). */
export async function voidUserTokens(db: Db, userId: string, purpose: string, now: number): Promise<void> {
  await db
    .updateTable('user_tokens')
    .set({ used_at: now })
    .where('user_id', '=', userId)
    .where('purpose', '=', purpose)
    .where('used_at', 'is', null)
    .execute();
}

export async function insertMail(db: Db, row: Insertable<MailTable>): Promise<void> {
  await db.insertInto('mail_outbox').values(row).execute();
}

export async function markMail(db: Db, id: string, changes: Updateable<MailTable>): Promise<void> {
  await db.updateTable('mail_outbox').set(changes).where('id', '=', id).execute();
}

export async function listMail(db: Db, filter: { to?: string; limit: number }): Promise<MailRow[]> {
  let q = db.selectFrom('mail_outbox').selectAll().orderBy('id', 'desc').limit(filter.limit);
  if (filter.to) q = q.where('to_address', '=', filter.to);
  return q.execute();
}

/** Inserts a pending request unless the account has one (the unique pending index is the race gate). */
export async function insertLiveRequestIfNonePending(
  db: Db,
  row: Insertable<LiveRequestTable>,
): Promise<LiveRequestRow | undefined> {
  return db
    .insertInto('live_requests')
    .values(row)
    .onConflict((oc) => oc.doNothing())
    .returningAll()
    .executeTakeFirst();
}

export async function findLiveRequest(db: Db, id: string): Promise<LiveRequestRow | undefined> {
  return db.selectFrom('live_requests').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function listLiveRequests(
  db: Db,
  filter: { accountId?: string; status?: string; before?: string; limit: number },
): Promise<LiveRequestRow[]> {
  let q = db
    .selectFrom('live_requests')
    .selectAll()
    .orderBy('id', 'desc')
    .limit(filter.limit + 1);
  if (filter.accountId) q = q.where('account_id', '=', filter.accountId);
  if (filter.status) q = q.where('status', '=', filter.status);
  if (filter.before) q = q.where('id', '<', filter.before);
  return q.execute();
}

/** Reviews a pending request; answers undefined when it is no longer pending (the race gate). */
export async function reviewLiveRequest(
  db: Db,
  id: string,
  changes: { status: 'approved' | 'rejected'; review_note: string | null; reviewed_at: number },
): Promise<LiveRequestRow | undefined> {
  return db
    .updateTable('live_requests')
    .set(changes)
    .where('id', '=', id)
    .where('status', '=', 'pending')
    .returningAll()
    .executeTakeFirst();
}

export async function hasApprovedLiveRequest(db: Db, accountId: string): Promise<boolean> {
  const row = await db
    .selectFrom('live_requests')
    .select('id')
    .where('account_id', '=', accountId)
    .where('status', '=', 'approved')
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

/** Inbox messages of some apps (or all), newest first; `after` gives those with a larger id, oldest first. */
export async function listInboxOf(
  db: Db,
  filter: { appIds?: string[]; phone?: string; after?: string; limit: number },
): Promise<InboxRow[]> {
  if (filter.appIds?.length === 0) return [];
  let q = db
    .selectFrom('inbox_messages')
    .selectAll()
    .orderBy('id', filter.after === undefined ? 'desc' : 'asc')
    .limit(filter.limit);
  if (filter.appIds) q = q.where('app_id', 'in', filter.appIds);
  if (filter.phone) q = q.where('phone', '=', filter.phone);
  if (filter.after !== undefined) q = q.where('id', '>', filter.after);
  return q.execute();
}

export async function appAccounts(db: Db, appIds: string[]): Promise<Map<string, string>> {
  if (appIds.length === 0) return new Map();
  const rows = await db.selectFrom('apps').select(['id', 'account_id']).where('id', 'in', appIds).execute();
  return new Map(rows.map((r) => [r.id, r.account_id]));
}

export async function appIdsOfAccount(db: Db, accountId: string): Promise<string[]> {
  const rows = await db.selectFrom('apps').select('id').where('account_id', '=', accountId).execute();
  return rows.map((r) => r.id);
}

/** Messages created since `fromId` (a time-ordered id bound), counted by status: one primary-key range scan. */
export async function countMessagesSince(db: Db, fromId: string): Promise<Record<string, number>> {
  const rows = await db
    .selectFrom('messages')
    .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
    .where('id', '>=', fromId)
    .groupBy('status')
    .execute();
  return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
}

export async function countRows(db: Db, table: 'accounts' | 'users'): Promise<number> {
  const row = await db
    .selectFrom(table)
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function countPending(db: Db, table: 'live_requests' | 'templates'): Promise<number> {
  const row = await db
    .selectFrom(table)
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('status', '=', 'pending')
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
