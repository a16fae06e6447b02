import type { Insertable, Selectable, Updateable } from 'kysely';
import type { Db } from './db.js';
import type { TemplateTable } from './schema-templates.js';

export type TemplateRow = Selectable<TemplateTable>;
export type TemplateStatus = 'pending' | 'approved' | 'rejected' | 'deleted';

/** Pending and approved templates hold one of the account's slots. */
export const ACTIVE_STATUSES: TemplateStatus[] = ['pending', 'approved'];

export async function insertTemplate(db: Db, row: Insertable<TemplateTable>): Promise<TemplateRow> {
  return db.insertInto('templates').values(row).returningAll().executeTakeFirstOrThrow();
}

/**
 * Takes the account's row lock (PostgreSQL) so that the count of its active
 * templates can be checked and added to without a parallel request slipping
 * in between; on SQLite the write transaction already serialises. Answers
 * whether the account exists.
 */
export async function lockAccountForTemplates(
  db: Db,
  accountId: string,
  rowLocks: boolean,
): Promise<boolean> {
  const q = db.selectFrom('accounts').select('id').where('id', '=', accountId);
  return (await (rowLocks ? q.forUpdate() : q).executeTakeFirst()) !== undefined;
}

export async function countActiveTemplates(db: Db, accountId: string): Promise<number> {
  const row = await db
    .selectFrom('templates')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('account_id', '=', accountId)
    .where('status', 'in', ACTIVE_STATUSES)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** One template, of one account when `accountId` is given (a foreign id is not found). */
export async function findTemplate(db: Db, id: string, accountId?: string): Promise<TemplateRow | undefined> {
  let q = db.selectFrom('templates').selectAll().where('id', '=', id);
  if (accountId !== undefined) q = q.where('account_id', '=', accountId);
  return q.executeTakeFirst();
}

/**
 * The approved template a send uses, read in the send's transaction. On
 * PostgreSQL a share lock holds off a delete until the send commits (parallel
 * sends share it), so no message is queued from a template deleted meanwhile.
 */
export async function findApprovedTemplate(
  db: Db,
  id: string,
  accountId: string,
  rowLocks: boolean,
): Promise<TemplateRow | undefined> {
  const q = db
    .selectFrom('templates')
    .selectAll()
    .where('id', '=', id)
    .where('account_id', '=', accountId)
    .where('status', '=', 'approved');
  return (rowLocks ? q.forShare() : q).executeTakeFirst();
}

export interface TemplateFilter {
  accountId?: string;
  status?: TemplateStatus;
  /** Cursor: ids below this one (newest first). */
  before?: string;
  limit: number;
}

/** Templates newest first, `limit + 1` rows (the extra one says there is more). */
export async function listTemplateRows(db: Db, f: TemplateFilter): Promise<TemplateRow[]> {
  let q = db
    .selectFrom('templates')
    .selectAll()
    .orderBy('id', 'desc')
    .limit(f.limit + 1);
  if (f.accountId !== undefined) q = q.where('account_id', '=', f.accountId);
  if (f.status !== undefined) q = q.where('status', '=', f.status);
  if (f.before !== undefined) q = q.where('id', '<', f.before);
  return q.execute();
}

/**
 * Moves a template to another status only from one of `from`: the guarded
 * update is the race gate (of an approve and a reject, or a delete and an
 * approve, exactly one wins). Answers the changed row, or undefined.
 */
export async function changeTemplateStatus(
  db: Db,
  id: string,
  from: TemplateStatus[],
  changes: Updateable<TemplateTable> & { status: TemplateStatus },
  accountId?: string,
): Promise<TemplateRow | undefined> {
  let q = db.updateTable('templates').set(changes).where('id', '=', id).where('status', 'in', from);
  if (accountId !== undefined) q = q.where('account_id', '=', accountId);
  return q.returningAll().executeTakeFirst();
}
