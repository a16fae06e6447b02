import type { Insertable, Selectable, Updateable } from 'kysely';
import type { Db, Store } from './db.js';
import { prepared } from './prepared.js';
import type {
  WebhookAttemptTable,
  WebhookDeliveryTable,
  WebhookEndpointTable,
  WebhookEventTable,
} from './schema-webhooks.js';

export type WebhookEndpointRow = Selectable<WebhookEndpointTable>;
export type WebhookEventRow = Selectable<WebhookEventTable>;
export type WebhookDeliveryRow = Selectable<WebhookDeliveryTable>;
export type WebhookAttemptRow = Selectable<WebhookAttemptTable>;

// Endpoints

export async function insertEndpoint(
  db: Db,
  row: Insertable<WebhookEndpointTable>,
): Promise<WebhookEndpointRow> {
  return db.insertInto('webhook_endpoints').values(row).returningAll().executeTakeFirstOrThrow();
}

export async function findEndpoint(
  db: Db,
  appId: string,
  id: string,
): Promise<WebhookEndpointRow | undefined> {
  return db
    .selectFrom('webhook_endpoints')
    .selectAll()
    .where('id', '=', id)
    .where('app_id', '=', appId)
    .executeTakeFirst();
}

/** Takes the endpoint's row lock (PostgreSQL) so a read-then-write on it is race-free. */
export async function lockEndpoint(
  db: Db,
  appId: string,
  id: string,
  rowLocks: boolean,
): Promise<WebhookEndpointRow | undefined> {
  const q = db.selectFrom('webhook_endpoints').selectAll().where('id', '=', id).where('app_id', '=', appId);
  return (rowLocks ? q.forUpdate() : q).executeTakeFirst();
}

export async function findEndpointsById(db: Db, ids: string[]): Promise<WebhookEndpointRow[]> {
  if (ids.length === 0) return [];
  return db.selectFrom('webhook_endpoints').selectAll().where('id', 'in', ids).execute();
}

/** Oldest first; the cursor is the last id shown. */
export async function listEndpointRows(db: Db, appId: string, page: { after?: string; limit: number }) {
  let q = db
    .selectFrom('webhook_endpoints')
    .selectAll()
    .where('app_id', '=', appId)
    .orderBy('id')
    .limit(page.limit + 1);
  if (page.after) q = q.where('id', '>', page.after);
  return q.execute();
}

export async function countEndpoints(db: Db, appId: string): Promise<number> {
  const row = await db
    .selectFrom('webhook_endpoints')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('app_id', '=', appId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function updateEndpointRow(
  db: Db,
  id: string,
  changes: Updateable<WebhookEndpointTable>,
): Promise<WebhookEndpointRow | undefined> {
  return db
    .updateTable('webhook_endpoints')
    .set(changes)
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
}

/** Disables an endpoint that is still enabled; answers it when this call did. */
export async function disableEndpointRow(
  db: Db,
  id: string,
  reason: string,
  now: number,
): Promise<WebhookEndpointRow | undefined> {
  return db
    .updateTable('webhook_endpoints')
    .set({ enabled: 0, disabled_reason: reason, updated_at: now })
    .where('id', '=', id)
    .where('enabled', '=', 1)
    .returningAll()
    .executeTakeFirst();
}

/** Removes an endpoint with its deliveries and their attempts (the events stay for other endpoints). */
export async function deleteEndpointRow(db: Db, id: string): Promise<void> {
  await db.deleteFrom('webhook_attempts').where('endpoint_id', '=', id).execute();
  await db.deleteFrom('webhook_deliveries').where('endpoint_id', '=', id).execute();
  await db.deleteFrom('webhook_endpoints').where('id', '=', id).execute();
}

/**
 * The enabled endpoints an event may go to: an app's, or (an account-wide
 * event such as balance.low) those of every app of the account. One indexed
 * query, the only cost an event has for an app without endpoints.
 */
export async function enabledEndpoints(
  db: Db,
  scope: { appId: string } | { accountId: string },
): Promise<Pick<WebhookEndpointRow, 'id' | 'app_id' | 'events'>[]> {
  return 'appId' in scope
    ? endpointsOfApp.all(db, { app_id: scope.appId })
    : endpointsOfAccount.all(db, { account_id: scope.accountId });
}

const endpointsOfApp = prepared<{ app_id: string }, Pick<WebhookEndpointRow, 'id' | 'app_id' | 'events'>>(
  (db, p) =>
    db
      .selectFrom('webhook_endpoints')
      .select(['id', 'app_id', 'events'])
      .where('enabled', '=', 1)
      .where('app_id', '=', p.app_id)
      .orderBy('id'),
);

const endpointsOfAccount = prepared<
  { account_id: string },
  Pick<WebhookEndpointRow, 'id' | 'app_id' | 'events'>
>((db, p) =>
  db
    .selectFrom('webhook_endpoints')
    .select(['id', 'app_id', 'events'])
    .where('enabled', '=', 1)
    .where('account_id', '=', p.account_id)
    .orderBy('id'),
);

// Events

export async function insertEvent(db: Db, row: Insertable<WebhookEventTable>): Promise<void> {
  await db.insertInto('webhook_events').values(row).execute();
}

export async function findEvent(db: Db, appId: string, id: string): Promise<WebhookEventRow | undefined> {
  return db
    .selectFrom('webhook_events')
    .selectAll()
    .where('id', '=', id)
    .where('app_id', '=', appId)
    .executeTakeFirst();
}

export async function findEventsById(db: Db, ids: string[]): Promise<WebhookEventRow[]> {
  if (ids.length === 0) return [];
  return db.selectFrom('webhook_events').selectAll().where('id', 'in', ids).execute();
}

/** Newest first; the cursor is the last id shown. */
export async function listEventRows(
  db: Db,
  f: { appId: string; type?: string; before?: string; limit: number },
): Promise<WebhookEventRow[]> {
  let q = db
    .selectFrom('webhook_events')
    .selectAll()
    .where('app_id', '=', f.appId)
    .orderBy('id', 'desc')
    .limit(f.limit + 1);
  if (f.type) q = q.where('type', '=', f.type);
  if (f.before) q = q.where('id', '<', f.before);
  return q.execute();
}

// Deliveries

export async function insertDeliveries(db: Db, rows: Insertable<WebhookDeliveryTable>[]): Promise<void> {
  if (rows.length > 0) await db.insertInto('webhook_deliveries').values(rows).execute();
}

/**
 * Claims due deliveries for one dispatcher: pending ones whose time has
 * come and claimed ones whose lease ran out (their process died). The
 * claim moves `next_try_at` to the lease's end and counts the attempt, so a
 * delivery that kills its process every time still runs out of attempts.
 * On PostgreSQL `SKIP LOCKED` lets dispatchers on several processes claim
 * disjoint batches; on SQLite the write transaction makes the claim atomic.
 */
export async function claimDueDeliveries(
  store: Store,
  now: number,
  limit: number,
  leaseMs: number,
): Promise<WebhookDeliveryRow[]> {
  return store.tx(async (trx) => {
    let due = trx
      .selectFrom('webhook_deliveries')
      .select('id')
      .where('status', 'in', ['pending', 'sending'])
      .where('next_try_at', '<=', now)
      .orderBy('next_try_at')
      .limit(limit);
    if (store.rowLocks) due = due.forUpdate().skipLocked();
    const found = await due.execute();
    if (found.length === 0) return [];
    return trx
      .updateTable('webhook_deliveries')
      .set((eb) => ({
        status: 'sending',
        attempts: eb('attempts', '+', 1),
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
  });
}

/**
 * Settles a claimed delivery (`claim` = the `tries` the claim set): a
 * dispatcher whose lease ran out and whose delivery was claimed again
 * cannot overwrite the newer claim's state.
 */
export async function settleDelivery(
  db: Db,
  id: string,
  claim: number,
  changes: Pick<Updateable<WebhookDeliveryTable>, 'status' | 'next_try_at' | 'succeeded_at'> & {
    last_status_code: number | null;
    last_error: string | null;
  },
  now: number,
): Promise<boolean> {
  const row = await db
    .updateTable('webhook_deliveries')
    .set({ ...changes, updated_at: now })
    .where('id', '=', id)
    .where('status', '=', 'sending')
    .where('tries', '=', claim)
    .returning('id')
    .executeTakeFirst();
  return row !== undefined;
}

/** Stops every delivery of an endpoint that is still waiting or out. */
export async function cancelEndpointDeliveries(db: Db, endpointId: string, reason: string, now: number) {
  await db
    .updateTable('webhook_deliveries')
    .set({ status: 'canceled', last_error: reason, next_try_at: Number.MAX_SAFE_INTEGER, updated_at: now })
    .where('endpoint_id', '=', endpointId)
    .where('status', 'in', ['pending', 'sending'])
    .execute();
}

export async function insertAttempt(db: Db, row: Insertable<WebhookAttemptTable>): Promise<void> {
  await db.insertInto('webhook_attempts').values(row).execute();
}

export async function findDelivery(
  db: Db,
  endpointId: string,
  id: string,
): Promise<WebhookDeliveryRow | undefined> {
  return db
    .selectFrom('webhook_deliveries')
    .selectAll()
    .where('id', '=', id)
    .where('endpoint_id', '=', endpointId)
    .executeTakeFirst();
}

/** Newest first; the cursor is the last id shown. */
export async function listDeliveryRows(
  db: Db,
  f: { endpointId: string; status?: string; eventId?: string; before?: string; limit: number },
): Promise<WebhookDeliveryRow[]> {
  let q = db
    .selectFrom('webhook_deliveries')
    .selectAll()
    .where('endpoint_id', '=', f.endpointId)
    .orderBy('id', 'desc')
    .limit(f.limit + 1);
  if (f.status) q = q.where('status', '=', f.status);
  if (f.eventId) q = q.where('event_id', '=', f.eventId);
  if (f.before) q = q.where('id', '<', f.before);
  return q.execute();
}

export async function deliveriesOfEvent(db: Db, eventId: string): Promise<WebhookDeliveryRow[]> {
  return db
    .selectFrom('webhook_deliveries')
    .selectAll()
    .where('event_id', '=', eventId)
    .orderBy('id')
    .execute();
}

/** The attempts of some deliveries, oldest first. */
export async function attemptsOf(db: Db, deliveryIds: string[]): Promise<WebhookAttemptRow[]> {
  if (deliveryIds.length === 0) return [];
  return db
    .selectFrom('webhook_attempts')
    .selectAll()
    .where('delivery_id', 'in', deliveryIds)
    .orderBy('id')
    .execute();
}

/**
 * Queues a settled delivery again, due now, with a fresh schedule. One of
 * parallel replays wins; a delivery still waiting or out is left alone.
 */
export async function requeueDelivery(
  db: Db,
  id: string,
  now: number,
): Promise<WebhookDeliveryRow | undefined> {
  return db
    .updateTable('webhook_deliveries')
    .set({ status: 'pending', attempts: 0, next_try_at: now, updated_at: now })
    .where('id', '=', id)
    .where('status', 'in', ['succeeded', 'failed', 'canceled'])
    .returningAll()
    .executeTakeFirst();
}

/*
 * Releasing a claim at shutdown makes its lease end now, as if the process
 * had died and the lease run out, minus the wait. Fenced by what the claim
 * set (status `sending`, `tries`, the lease end): one taken again is left alone.
 */
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
