import type { Insertable, Selectable, Updateable } from 'kysely';
import type { Db } from './db.js';
import type { AccountTable, ApiKeyTable, AppTable } from './schema.js';

export type AccountRow = Selectable<AccountTable>;
export type AppRow = Selectable<AppTable>;
export type ApiKeyRow = Selectable<ApiKeyTable>;

export async function insertAccount(db: Db, row: Insertable<AccountTable>): Promise<AccountRow> {
  return db.insertInto('accounts').values(row).returningAll().executeTakeFirstOrThrow();
}

export async function findAccount(db: Db, id: string): Promise<AccountRow | undefined> {
  return db.selectFrom('accounts').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function listAccounts(db: Db, page: { limit: number; after?: string }) {
  let q = db
    .selectFrom('accounts')
    .selectAll()
    .orderBy('id')
    .limit(page.limit + 1);
  if (page.after) q = q.where('id', '>', page.after);
  return q.execute();
}

export async function insertApp(db: Db, row: Insertable<AppTable>): Promise<AppRow> {
  return db.insertInto('apps').values(row).returningAll().executeTakeFirstOrThrow();
}

export async function findApp(db: Db, id: string): Promise<AppRow | undefined> {
  return db.selectFrom('apps').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function listApps(db: Db, page: { limit: number; after?: string; accountId?: string }) {
  let q = db
    .selectFrom('apps')
    .selectAll()
    .orderBy('id')
    .limit(page.limit + 1);
  if (page.after) q = q.where('id', '>', page.after);
  if (page.accountId) q = q.where('account_id', '=', page.accountId);
  return q.execute();
}

export async function updateApp(
  db: Db,
  id: string,
  changes: Updateable<AppTable>,
): Promise<AppRow | undefined> {
  return db.updateTable('apps').set(changes).where('id', '=', id).returningAll().executeTakeFirst();
}

/** Takes the app's row lock (PostgreSQL) so per-app counts can be checked race-free. */
export async function lockApp(db: Db, id: string, rowLocks: boolean): Promise<AppRow | undefined> {
  const q = db.selectFrom('apps').selectAll().where('id', '=', id);
  return (rowLocks ? q.forUpdate() : q).executeTakeFirst();
}

export async function insertApiKey(db: Db, row: Insertable<ApiKeyTable>): Promise<ApiKeyRow> {
  return db.insertInto('api_keys').values(row).returningAll().executeTakeFirstOrThrow();
}

export async function countActiveKeys(db: Db, appId: string): Promise<number> {
  const row = await db
    .selectFrom('api_keys')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('app_id', '=', appId)
    .where('revoked_at', 'is', null)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function listApiKeys(db: Db, appId: string): Promise<ApiKeyRow[]> {
  return db.selectFrom('api_keys').selectAll().where('app_id', '=', appId).orderBy('id').execute();
}

export async function findApiKey(db: Db, id: string): Promise<ApiKeyRow | undefined> {
  return db.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst();
}

/** The key and its app in one round trip: the hot path of every /v1 request. */
export async function findKeyWithApp(db: Db, hash: string) {
  return db
    .selectFrom('api_keys')
    .innerJoin('apps', 'apps.id', 'api_keys.app_id')
    .selectAll('apps')
    .select([
      'api_keys.id as key_id',
      'api_keys.environment as key_environment',
      'api_keys.revoked_at as key_revoked_at',
      'api_keys.last_used_at as key_last_used_at',
    ])
    .where('api_keys.hash', '=', hash)
    .executeTakeFirst();
}

export async function revokeApiKey(db: Db, id: string, at: number): Promise<ApiKeyRow | undefined> {
  return db
    .updateTable('api_keys')
    .set({ revoked_at: at })
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .returningAll()
    .executeTakeFirst();
}

/** Records use at most once a minute, so the hot path rarely writes. */
export async function touchApiKey(db: Db, id: string, at: number): Promise<void> {
  await db
    .updateTable('api_keys')
    .set({ last_used_at: at })
    .where('id', '=', id)
    .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', at - 60_000)]))
    .execute();
}

export async function getMeta(db: Db, key: string): Promise<string | undefined> {
  const row = await db.selectFrom('meta').select('value').where('key', '=', key).executeTakeFirst();
  return row?.value;
}

/** Sets a meta value unless one exists; answers whether this call set it. */
export async function claimMeta(db: Db, key: string, value: string): Promise<boolean> {
  const result = await db
    .insertInto('meta')
    .values({ key, value })
    .onConflict((oc) => oc.column('key').doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
}

export async function setMeta(db: Db, key: string, value: string): Promise<void> {
  await db
    .insertInto('meta')
    .values({ key, value })
    .onConflict((oc) => oc.column('key').doUpdateSet({ value }))
    .execute();
}
