import type { Context } from '../context.js';
import { iso } from '../context.js';
import { decrypt, encrypt } from '../core/crypto.js';
import { invalid, OtpdError } from '../core/errors.js';
import { type Page, pageOf } from '../core/pagination.js';
import type { Db } from '../store/db.js';
import { findApp, lockApp } from '../store/tenancy.js';
import {
  cancelEndpointDeliveries,
  countEndpoints,
  deleteEndpointRow,
  findEndpoint,
  insertEndpoint,
  listEndpointRows,
  lockEndpoint,
  updateEndpointRow,
  type WebhookEndpointRow,
} from '../store/webhooks.js';
import { WEBHOOK_EVENTS, type WebhookEventType, webhookId } from './events.js';
import { generateWebhookSecret } from './signing.js';
import { checkWebhookTarget, WebhookTargetError } from './ssrf.js';

/** Endpoints per app: each event fans out to all of them in the change's transaction. */
export const MAX_ENDPOINTS = 10;
/** How long the old secret still signs after a rotation, unless the request says. */
export const DEFAULT_OVERLAP_SECONDS = 86_400;
const MAX_URL_LENGTH = 2048;

/** What the API shows of an endpoint: never its secret (that is shown once, on create and rotate). */
export interface WebhookEndpoint {
  id: string;
  app_id: string;
  url: string;
  /** null: every event, also ones added later. */
  events: WebhookEventType[] | null;
  enabled: boolean;
  /** Why otpd disabled it (a 410 Gone); null otherwise. */
  disabled_reason: string | null;
  /** Until when the secret before the last rotation still signs; null when only one does. */
  previous_secret_expires_at: string | null;
  created_at: string;
  updated_at: string;
}

export function toEndpoint(row: WebhookEndpointRow, now: number): WebhookEndpoint {
  const overlap = row.previous_secret_expires_at !== null && row.previous_secret_expires_at > now;
  return {
    id: row.id,
    app_id: row.app_id,
    url: row.url,
    events: row.events === null ? null : (JSON.parse(row.events) as WebhookEventType[]),
    enabled: row.enabled === 1,
    disabled_reason: row.disabled_reason,
    previous_secret_expires_at: overlap ? iso(row.previous_secret_expires_at) : null,
    created_at: iso(row.created_at)!,
    updated_at: iso(row.updated_at)!,
  };
}

/** The secrets that sign a request now, newest first. */
export function activeSecrets(ctx: Context, row: WebhookEndpointRow, now: number): string[] {
  const secrets = [decrypt(ctx.keyring, row.secret_ciphertext, row.id)];
  if (
    row.previous_secret_ciphertext !== null &&
    row.previous_secret_expires_at !== null &&
    row.previous_secret_expires_at > now
  ) {
    secrets.push(decrypt(ctx.keyring, row.previous_secret_ciphertext, row.id));
  }
  return secrets;
}

/** A URL fit to register: parsed, http(s), no credentials, every address of its host allowed. */
async function checkUrl(ctx: Context, text: string): Promise<string> {
  if (text.length > MAX_URL_LENGTH)
    throw invalid('url', `The URL must be at most ${MAX_URL_LENGTH} characters.`);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalid('url', 'The URL is not a valid absolute URL.');
  }
  try {
    await checkWebhookTarget(url, ctx.allowPrivateWebhooks === true);
  } catch (error) {
    if (error instanceof WebhookTargetError) throw invalid('url', error.message);
    throw error;
  }
  return url.href;
}

/** A subscription list: known names, no repeats; null (or absent) means every event. */
function checkEvents(events: string[] | null | undefined): string | null {
  if (events === undefined || events === null) return null;
  if (events.length === 0) {
    throw invalid('events', 'events must name at least one event, or be left out for every event.');
  }
  const unknown = events.filter((e) => !(WEBHOOK_EVENTS as readonly string[]).includes(e));
  if (unknown.length > 0) {
    throw invalid('events', `Unknown event ${unknown.join(', ')}; known: ${WEBHOOK_EVENTS.join(', ')}.`);
  }
  return JSON.stringify([...new Set(events)]);
}

export async function createEndpoint(
  ctx: Context,
  appId: string,
  input: { url: string; events?: string[] | null; enabled?: boolean },
): Promise<WebhookEndpoint & { secret: string }> {
  const events = checkEvents(input.events);
  const url = await checkUrl(ctx, input.url);
  const now = ctx.clock.now();
  const secret = generateWebhookSecret();
  const row = await ctx.store.tx(async (trx) => {
    // The app row lock (PostgreSQL) or the write lock (SQLite) serialises
    // creation per app, so parallel requests cannot pass the limit together.
    const app = await lockApp(trx, appId, ctx.store.rowLocks);
    if (!app) throw new OtpdError('NOT_FOUND', `No app ${appId}.`);
    if ((await countEndpoints(trx, appId)) >= MAX_ENDPOINTS) {
      throw invalid('url', `An app may have at most ${MAX_ENDPOINTS} webhook endpoints; delete one first.`);
    }
    const id = webhookId('whk', now);
    return insertEndpoint(trx, {
      id,
      account_id: app.account_id,
      app_id: appId,
      url,
      events,
      enabled: input.enabled === false ? 0 : 1,
      secret_ciphertext: encrypt(ctx.keyring, secret, id),
      previous_secret_ciphertext: null,
      previous_secret_expires_at: null,
      disabled_reason: null,
      created_at: now,
      updated_at: now,
    });
  });
  return { ...toEndpoint(row, now), secret };
}

async function endpointOf(db: Db, appId: string, id: string): Promise<WebhookEndpointRow> {
  const row = await findEndpoint(db, appId, id);
  if (!row) throw new OtpdError('NOT_FOUND', `No webhook endpoint ${id} in app ${appId}.`);
  return row;
}

/** An app that does not exist is NOT_FOUND, not an empty list. */
async function requireApp(ctx: Context, appId: string): Promise<void> {
  if (!(await findApp(ctx.store.db, appId))) throw new OtpdError('NOT_FOUND', `No app ${appId}.`);
}

export async function getEndpoint(ctx: Context, appId: string, id: string): Promise<WebhookEndpoint> {
  return toEndpoint(await endpointOf(ctx.store.db, appId, id), ctx.clock.now());
}

export async function listEndpoints(
  ctx: Context,
  appId: string,
  page: { limit: number; cursor?: string },
): Promise<Page<WebhookEndpoint>> {
  await requireApp(ctx, appId);
  const rows = await listEndpointRows(ctx.store.db, appId, { after: page.cursor, limit: page.limit });
  const now = ctx.clock.now();
  return pageOf(rows, page.limit, (row) => toEndpoint(row, now));
}

export async function changeEndpoint(
  ctx: Context,
  appId: string,
  id: string,
  changes: { url?: string; events?: string[] | null; enabled?: boolean },
): Promise<WebhookEndpoint> {
  await endpointOf(ctx.store.db, appId, id);
  const events = changes.events === undefined ? undefined : checkEvents(changes.events);
  const url = changes.url === undefined ? undefined : await checkUrl(ctx, changes.url);
  const now = ctx.clock.now();
  const row = await ctx.store.tx(async (trx) => {
    const updated = await updateEndpointRow(trx, id, {
      ...(url !== undefined ? { url } : {}),
      ...(events !== undefined ? { events } : {}),
      ...(changes.enabled !== undefined ? { enabled: changes.enabled ? 1 : 0, disabled_reason: null } : {}),
      updated_at: now,
    });
    // A disabled endpoint gets nothing more, also what was already queued for it.
    if (changes.enabled === false) await cancelEndpointDeliveries(trx, id, 'The endpoint was disabled.', now);
    return updated;
  });
  if (!row) throw new OtpdError('NOT_FOUND', `No webhook endpoint ${id} in app ${appId}.`);
  return toEndpoint(row, now);
}

export async function deleteEndpoint(ctx: Context, appId: string, id: string): Promise<WebhookEndpoint> {
  const row = await endpointOf(ctx.store.db, appId, id);
  await ctx.store.tx((trx) => deleteEndpointRow(trx, id));
  return toEndpoint(row, ctx.clock.now());
}

/**
 * A new secret, returned this once. The one it replaces keeps signing for
 * `overlap_seconds` (both signatures in every request meanwhile), so
 * receivers can switch without dropping a request; a secret older than that
 * is dropped.
 */
export async function rotateSecret(
  ctx: Context,
  appId: string,
  id: string,
  input: { overlap_seconds?: number },
): Promise<WebhookEndpoint & { secret: string }> {
  const overlap = input.overlap_seconds ?? DEFAULT_OVERLAP_SECONDS;
  const now = ctx.clock.now();
  const secret = generateWebhookSecret();
  const row = await ctx.store.tx(async (trx) => {
    // Parallel rotations queue on the row: each keeps the one before it as the previous secret.
    const current = await lockEndpoint(trx, appId, id, ctx.store.rowLocks);
    if (!current) throw new OtpdError('NOT_FOUND', `No webhook endpoint ${id} in app ${appId}.`);
    return updateEndpointRow(trx, id, {
      secret_ciphertext: encrypt(ctx.keyring, secret, id),
      previous_secret_ciphertext: overlap > 0 ? current.secret_ciphertext : null,
      previous_secret_expires_at: overlap > 0 ? now + overlap * 1000 : null,
      updated_at: now,
    });
  });
  if (!row) throw new OtpdError('NOT_FOUND', `No webhook endpoint ${id} in app ${appId}.`);
  return { ...toEndpoint(row, now), secret };
}
