import type { Context } from '../context.js';
import { iso } from '../context.js';
import { OtpdError } from '../core/errors.js';
import { type Page, pageOf } from '../core/pagination.js';
import type { Db } from '../store/db.js';
import { findApp } from '../store/tenancy.js';
import {
  attemptsOf,
  deliveriesOfEvent,
  findDelivery,
  findEndpoint,
  findEndpointsById,
  findEvent,
  findEventsById,
  listDeliveryRows,
  listEventRows,
  requeueDelivery,
  type WebhookDeliveryRow,
  type WebhookEndpointRow,
  type WebhookEventRow,
} from '../store/webhooks.js';
import type { WebhookEventType } from './events.js';

export type DeliveryStatus = 'pending' | 'sending' | 'succeeded' | 'failed' | 'canceled';
export const DELIVERY_STATUSES: DeliveryStatus[] = ['pending', 'sending', 'succeeded', 'failed', 'canceled'];

/** One HTTP attempt. */
export interface WebhookAttempt {
  id: string;
  /** 1 for the first attempt (a replay starts counting again). */
  attempt: number;
  /** The receiver's answer; null when none came (refused, timed out, blocked). */
  status_code: number | null;
  latency_ms: number;
  error: string | null;
  created_at: string;
}

/** One event's way to one endpoint, with every attempt. */
export interface WebhookDelivery {
  id: string;
  event_id: string;
  event_type: WebhookEventType;
  endpoint_id: string;
  status: DeliveryStatus;
  /** Attempts made in the current schedule. */
  attempt_count: number;
  /** When the next attempt is due; null when none is (settled, or out now). */
  next_attempt_at: string | null;
  last_status_code: number | null;
  last_error: string | null;
  created_at: string;
  updated_at: string;
  succeeded_at: string | null;
  attempts: WebhookAttempt[];
}

export interface WebhookEvent {
  id: string;
  type: WebhookEventType;
  created_at: string;
  /** The body every endpoint got, as signed. */
  payload: Record<string, unknown>;
}

const toEvent = (row: WebhookEventRow): WebhookEvent => ({
  id: row.id,
  type: row.type as WebhookEventType,
  created_at: iso(row.created_at)!,
  payload: JSON.parse(row.payload) as Record<string, unknown>,
});

/** Deliveries with their attempts and event types, in two queries for the lot. */
async function withDetail(db: Db, rows: WebhookDeliveryRow[]): Promise<Map<string, WebhookDelivery>> {
  const ids = rows.map((r) => r.id);
  const attempts = new Map<string, WebhookAttempt[]>(ids.map((id) => [id, []]));
  for (const a of await attemptsOf(db, ids)) {
    attempts.get(a.delivery_id)!.push({
      id: a.id,
      attempt: a.attempt,
      status_code: a.status_code,
      latency_ms: a.latency_ms,
      error: a.error,
      created_at: iso(a.created_at)!,
    });
  }
  const types = new Map(
    (await findEventsById(db, [...new Set(rows.map((r) => r.event_id))])).map((e) => [e.id, e.type]),
  );
  return new Map(
    rows.map((row) => [
      row.id,
      {
        id: row.id,
        event_id: row.event_id,
        event_type: types.get(row.event_id) as WebhookEventType,
        endpoint_id: row.endpoint_id,
        status: row.status as DeliveryStatus,
        attempt_count: row.attempts,
        next_attempt_at: row.status === 'pending' ? iso(row.next_try_at) : null,
        last_status_code: row.last_status_code,
        last_error: row.last_error,
        created_at: iso(row.created_at)!,
        updated_at: iso(row.updated_at)!,
        succeeded_at: iso(row.succeeded_at),
        attempts: attempts.get(row.id)!,
      },
    ]),
  );
}

async function endpointOf(ctx: Context, appId: string, id: string): Promise<WebhookEndpointRow> {
  const row = await findEndpoint(ctx.store.db, appId, id);
  if (!row) throw new OtpdError('NOT_FOUND', `No webhook endpoint ${id} in app ${appId}.`);
  return row;
}

/** An endpoint's deliveries, newest first, each with its attempts. */
export async function listDeliveries(
  ctx: Context,
  appId: string,
  endpointId: string,
  f: { status?: DeliveryStatus; event_id?: string; cursor?: string; limit: number },
): Promise<Page<WebhookDelivery>> {
  await endpointOf(ctx, appId, endpointId);
  const db = ctx.store.db;
  const rows = await listDeliveryRows(db, {
    endpointId,
    status: f.status,
    eventId: f.event_id,
    before: f.cursor,
    limit: f.limit,
  });
  const detail = await withDetail(db, rows.slice(0, f.limit));
  return pageOf(rows, f.limit, (row) => detail.get(row.id)!);
}

export async function getDelivery(
  ctx: Context,
  appId: string,
  endpointId: string,
  id: string,
): Promise<WebhookDelivery> {
  await endpointOf(ctx, appId, endpointId);
  const row = await findDelivery(ctx.store.db, endpointId, id);
  if (!row) throw new OtpdError('NOT_FOUND', `No delivery ${id} of webhook endpoint ${endpointId}.`);
  return (await withDetail(ctx.store.db, [row])).get(id)!;
}

/**
 * Sends a delivery again with the same event (same `webhook-id` and body),
 * on a fresh retry schedule. One that is still waiting or out is left as it
 * is: it will be sent anyway.
 */
export async function replayDelivery(
  ctx: Context,
  appId: string,
  endpointId: string,
  id: string,
): Promise<WebhookDelivery> {
  const endpoint = await endpointOf(ctx, appId, endpointId);
  const row = await findDelivery(ctx.store.db, endpointId, id);
  if (!row) throw new OtpdError('NOT_FOUND', `No delivery ${id} of webhook endpoint ${endpointId}.`);
  if (endpoint.enabled !== 1) {
    throw new OtpdError('INVALID_REQUEST', 'The endpoint is disabled; enable it before replaying.', {
      field: 'enabled',
    });
  }
  if (await requeueDelivery(ctx.store.db, id, ctx.clock.now())) ctx.wakeWebhooks?.();
  return getDelivery(ctx, appId, endpointId, id);
}

/** An app's events, newest first. */
export async function listEvents(
  ctx: Context,
  appId: string,
  f: { type?: WebhookEventType; cursor?: string; limit: number },
): Promise<Page<WebhookEvent>> {
  if (!(await findApp(ctx.store.db, appId))) throw new OtpdError('NOT_FOUND', `No app ${appId}.`);
  const rows = await listEventRows(ctx.store.db, { appId, type: f.type, before: f.cursor, limit: f.limit });
  return pageOf(rows, f.limit, toEvent);
}

/** One event with its deliveries to every endpoint. */
export async function getEvent(
  ctx: Context,
  appId: string,
  id: string,
): Promise<WebhookEvent & { deliveries: WebhookDelivery[] }> {
  const row = await findEvent(ctx.store.db, appId, id);
  if (!row) throw new OtpdError('NOT_FOUND', `No webhook event ${id} in app ${appId}.`);
  const deliveries = await deliveriesOfEvent(ctx.store.db, id);
  const detail = await withDetail(ctx.store.db, deliveries);
  return { ...toEvent(row), deliveries: deliveries.map((d) => detail.get(d.id)!) };
}

/** Replays an event's failed and canceled deliveries to endpoints that are still enabled. */
export async function replayEvent(
  ctx: Context,
  appId: string,
  id: string,
): Promise<WebhookEvent & { deliveries: WebhookDelivery[] }> {
  const row = await findEvent(ctx.store.db, appId, id);
  if (!row) throw new OtpdError('NOT_FOUND', `No webhook event ${id} in app ${appId}.`);
  const deliveries = await deliveriesOfEvent(ctx.store.db, id);
  const enabled = new Set(
    (await findEndpointsById(ctx.store.db, [...new Set(deliveries.map((d) => d.endpoint_id))]))
      .filter((e) => e.enabled === 1)
      .map((e) => e.id),
  );
  const now = ctx.clock.now();
  let requeued = false;
  for (const d of deliveries) {
    if ((d.status === 'failed' || d.status === 'canceled') && enabled.has(d.endpoint_id)) {
      requeued = (await requeueDelivery(ctx.store.db, d.id, now)) !== undefined || requeued;
    }
  }
  if (requeued) ctx.wakeWebhooks?.();
  return getEvent(ctx, appId, id);
}
