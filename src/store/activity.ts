import type { Insertable, Selectable } from 'kysely';
import type { Db } from './db.js';
import { preparedInsert } from './prepared.js';
import type { ActivityTable } from './schema.js';

export type ActivityRow = Selectable<ActivityTable>;

const activityRow = preparedInsert('activity_log');

export async function insertActivity(db: Db, row: Insertable<ActivityTable>): Promise<void> {
  await activityRow(db, row);
}

/** Many entries, in statements of up to 500 rows (one, the common case, prepared). */
export async function insertActivities(db: Db, rows: Insertable<ActivityTable>[]): Promise<void> {
  if (rows.length === 1) return insertActivity(db, rows[0]!);
  for (let i = 0; i < rows.length; i += 500) {
    await db
      .insertInto('activity_log')
      .values(rows.slice(i, i + 500))
      .execute();
  }
}

export interface ActivityFilter {
  appId: string;
  type?: string;
  otpId?: string;
  from?: number;
  to?: number;
  before?: string;
  limit: number;
}

/** Newest first; the cursor is the last id shown. */
export async function listActivityRows(db: Db, f: ActivityFilter): Promise<ActivityRow[]> {
  let q = db
    .selectFrom('activity_log')
    .selectAll()
    .where('app_id', '=', f.appId)
    .orderBy('id', 'desc')
    .limit(f.limit + 1);
  if (f.type) q = q.where('type', '=', f.type);
  if (f.otpId) q = q.where('otp_id', '=', f.otpId);
  if (f.from !== undefined) q = q.where('created_at', '>=', f.from);
  if (f.to !== undefined) q = q.where('created_at', '<', f.to);
  if (f.before) q = q.where('id', '<', f.before);
  return q.execute();
}
