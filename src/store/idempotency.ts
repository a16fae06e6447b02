import type { Selectable } from 'kysely';
import type { Db } from './db.js';
import type { IdempotencyKeyTable } from './schema.js';

export type IdempotencyRow = Selectable<IdempotencyKeyTable>;

/** Claims a key for one request; answers false when a row exists already. */
export async function claimIdempotencyKey(
  db: Db,
  row: { scope_key: string; request_hash: string; locked_until: number; expires_at: number },
): Promise<boolean> {
  const result = await db
    .insertInto('idempotency_keys')
    .values({ ...row, state: 'in_flight', response_status: null, response_body: null })
    .onConflict((oc) => oc.column('scope_key').doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
}

export async function findIdempotencyKey(db: Db, scopeKey: string): Promise<IdempotencyRow | undefined> {
  return db.selectFrom('idempotency_keys').selectAll().where('scope_key', '=', scopeKey).executeTakeFirst();
}

/**
 * Takes over a key whose claim is stale (its process died mid-request) or
 * whose 24 h ran out. Guarded, so of several takers one wins.
 */
export async function takeOverIdempotencyKey(
  db: Db,
  row: { scope_key: string; request_hash: string; locked_until: number; expires_at: number },
  now: number,
): Promise<boolean> {
  const result = await db
    .updateTable('idempotency_keys')
    .set({ ...row, state: 'in_flight', response_status: null, response_body: null })
    .where('scope_key', '=', row.scope_key)
    .where((eb) =>
      eb.or([
        eb('expires_at', '<=', now),
        eb.and([
          eb('state', '=', 'in_flight'),
          eb('locked_until', '<=', now),
          eb('request_hash', '=', row.request_hash),
        ]),
      ]),
    )
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

export async function completeIdempotencyKey(db: Db, scopeKey: string, status: number, body: string) {
  await db
    .updateTable('idempotency_keys')
    .set({ state: 'done', response_status: status, response_body: body })
    .where('scope_key', '=', scopeKey)
    .execute();
}

export async function releaseIdempotencyKey(db: Db, scopeKey: string) {
  await db
    .deleteFrom('idempotency_keys')
    .where('scope_key', '=', scopeKey)
    .where('state', '=', 'in_flight')
    .execute();
}

export async function deleteExpiredIdempotencyKeys(db: Db, now: number) {
  await db.deleteFrom('idempotency_keys').where('expires_at', '<=', now).execute();
}
