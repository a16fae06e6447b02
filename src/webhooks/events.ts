import { iso } from '../context.js';
import { newId } from '../core/ids.js';
import { toMessageRecord } from '../delivery/messages.js';
import { toRecord } from '../otp/record.js';
import type { Db } from '../store/db.js';
import { getMessage } from '../store/messages.js';
import { findOtp } from '../store/otps.js';
import { findAccount, findApp } from '../store/tenancy.js';
import { readOncePerTx } from '../store/tx-memo.js';
import { enabledEndpoints, insertDeliveries, insertEvent } from '../store/webhooks.js';

/** An activity entry as written, in the caller's transaction. */
export interface ActivityEvent {
  id: string;
  account_id: string;
  app_id: string | null;
  type: string;
  otp_id: string | null;
  detail: Record<string, unknown>;
  created_at: number;
}

/** The events an endpoint may subscribe to. */
export const WEBHOOK_EVENTS = [
  'otp.sent',
  'otp.delivered',
  'otp.failed',
  'otp.verified',
  'otp.expired',
  'sms.sent',
  'sms.delivered',
  'sms.failed',
  'balance.low',
] as const;

export type WebhookEventType = (typeof WEBHOOK_EVENTS)[number];

/** Ids of the webhook tables (`whk_` endpoint, `evt_` event, `whd_` delivery, `wha_` attempt). */
export const webhookId = (prefix: 'whk' | 'evt' | 'whd' | 'wha', now: number): string => newId(prefix, now);

/**
 * The webhook event an activity entry is, if any. A message's outcome is an
 * `otp.*` or `sms.*` event by the message's kind, except that a failed OTP
 * message is not `otp.failed`: the OTP may still reach the user through a
 * fallback, and `otp.failed` is its own entry when nothing can.
 */
export function webhookTypeOf(event: Pick<ActivityEvent, 'type' | 'detail'>): WebhookEventType | null {
  const kind = event.detail.kind;
  switch (event.type) {
    case 'message.sent':
      return kind === 'otp' ? 'otp.sent' : kind === 'sms' ? 'sms.sent' : null;
    case 'message.delivered':
      return kind === 'otp' ? 'otp.delivered' : kind === 'sms' ? 'sms.delivered' : null;
    case 'message.failed':
      return kind === 'sms' ? 'sms.failed' : null;
    case 'otp.verified':
    case 'otp.expired':
    case 'otp.failed':
    case 'balance.low':
      return event.type;
    default:
      return null;
  }
}

const subscribes = (events: string | null, type: WebhookEventType) =>
  events === null || (JSON.parse(events) as string[]).includes(type);

/**
 * Queues the webhook events an activity entry causes, in the same
 * transaction as the change (so an event exists exactly when its change does).
 * An entry that is no event costs nothing; one for an app without endpoints
 * costs one indexed query. Each app gets its own event (its own `evt_` id
 * and `app` block) and each of its subscribed endpoints one delivery.
 */
export async function enqueueWebhookEvents(db: Db, event: ActivityEvent): Promise<void> {
  const type = webhookTypeOf(event);
  if (!type) return;
  const scope = event.app_id ? { appId: event.app_id } : { accountId: event.account_id };
  // A grouped write (the worker's handovers, receipts) asks once per app.
  const all = await readOncePerTx(
    db,
    `webhook-endpoints:${event.app_id ?? `account:${event.account_id}`}`,
    () => enabledEndpoints(db, scope),
  );
  const endpoints = all.filter((e) => subscribes(e.events, type));
  if (endpoints.length === 0) return;

  const byApp = new Map<string, string[]>();
  for (const endpoint of endpoints)
    byApp.set(endpoint.app_id, [...(byApp.get(endpoint.app_id) ?? []), endpoint.id]);
  const data = await eventData(db, type, event);
  if (!data) return;
  const now = event.created_at;
  for (const [appId, endpointIds] of byApp) {
    const app = await findApp(db, appId);
    if (!app) continue;
    const id = webhookId('evt', now);
    const payload = {
      id,
      type,
      created_at: iso(now)!,
      app: { app_id: app.id, name: app.name, environment: app.environment },
      data,
    };
    await insertEvent(db, {
      id,
      account_id: event.account_id,
      app_id: appId,
      type,
      payload: JSON.stringify(payload),
      created_at: now,
    });
    await insertDeliveries(
      db,
      endpointIds.map((endpointId) => ({
        id: webhookId('whd', now),
        event_id: id,
        endpoint_id: endpointId,
        app_id: appId,
        status: 'pending',
        attempts: 0,
        tries: 0,
        next_try_at: now,
        last_status_code: null,
        last_error: null,
        created_at: now,
        updated_at: now,
        succeeded_at: null,
      })),
    );
    queued();
  }
}

/**
 * Dispatchers of this process, told when deliveries were queued. The queueing
 * transaction has not committed yet: they look a moment later, and their
 * poll covers a commit that took longer (or one in another process).
 */
const listeners = new Set<() => void>();
let pending: NodeJS.Timeout | undefined;
const QUEUED_DELAY_MS = 20;

function queued(): void {
  if (pending || listeners.size === 0) return;
  pending = setTimeout(() => {
    pending = undefined;
    for (const listener of listeners) listener();
  }, QUEUED_DELAY_MS);
  pending.unref();
}

/** Calls `listener` shortly after deliveries were queued in this process; answers the unsubscribe. */
export function onDeliveriesQueued(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/**
 * The `data` of an event, as the change left it: the OTP's record (with the
 * message it is about, for sent, delivered and failed), the message's record
 * for `sms.*`, the account's balance for `balance.low`. Never a code or a
 * message text.
 */
async function eventData(
  db: Db,
  type: WebhookEventType,
  event: ActivityEvent,
): Promise<Record<string, unknown> | undefined> {
  const messageId = typeof event.detail.message_id === 'string' ? event.detail.message_id : undefined;
  const message = async () => {
    if (!messageId || !event.app_id) return undefined;
    const row = await getMessage(db, event.app_id, messageId);
    return row ? toMessageRecord(row) : undefined;
  };
  if (type === 'balance.low') {
    const account = await findAccount(db, event.account_id);
    return {
      account_id: event.account_id,
      balance: account?.balance ?? null,
      currency: account?.currency ?? null,
      ...event.detail,
    };
  }
  if (type.startsWith('sms.')) {
    const record = await message();
    return record && { ...record };
  }
  if (!event.otp_id || !event.app_id) return undefined;
  const otp = await findOtp(db, event.app_id, event.otp_id);
  if (!otp) return undefined;
  const record: Record<string, unknown> = { ...toRecord(otp, event.created_at) };
  if (type === 'otp.sent' || type === 'otp.delivered' || type === 'otp.failed') {
    record.message = (await message()) ?? null;
  }
  return record;
}
