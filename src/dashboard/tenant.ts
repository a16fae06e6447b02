import { type ActivityEntry, listActivity } from '../activity/log.js';
import { iso } from '../context.js';
import { OtpdError } from '../core/errors.js';
import type { Environment } from '../core/policy.js';
import { getOtp, listOtpAttempts, listOtpRecords, type OtpListFilter } from '../otp/read.js';
import {
  findLiveRequest,
  hasApprovedLiveRequest,
  insertLiveRequestIfNonePending,
  type LiveRequestRow,
  listLiveRequests,
  reviewLiveRequest,
} from '../store/dashboard.js';
import { findApiKey } from '../store/tenancy.js';
import { getAccount } from '../tenancy/accounts.js';
import { type App, changeApp, createApp, getApp, listAllApps, type PolicyChanges } from '../tenancy/apps.js';
import { createKey, listKeys, revokeKey, type Tenant } from '../tenancy/keys.js';
import type { DashboardContext } from './context.js';
import { dashboardError } from './errors.js';
import { newDashboardId } from './ids.js';

/**
 * The dashboard's view of one account: the same services as /admin and /v1,
 * each call scoped to the session's account. Another account's app, key or
 * OTP answers exactly like one that does not exist.
 */

const MAX_APPS_LISTED = 100;

export async function accountApp(ctx: DashboardContext, accountId: string, appId: string): Promise<App> {
  const app = await getApp(ctx, appId).catch(() => undefined);
  if (!app || app.account_id !== accountId) throw new OtpdError('NOT_FOUND', `No app ${appId}.`);
  return app;
}

export async function listAccountApps(ctx: DashboardContext, accountId: string): Promise<App[]> {
  return (await listAllApps(ctx, { account_id: accountId, limit: MAX_APPS_LISTED })).items;
}

async function checkLiveAllowed(
  ctx: DashboardContext,
  accountId: string,
  environment: Environment | undefined,
) {
  if (environment === 'live' && !(await hasApprovedLiveRequest(ctx.store.db, accountId))) {
    throw dashboardError('LIVE_MODE_NOT_APPROVED', undefined, { field: 'environment' });
  }
}

export async function createAccountApp(
  ctx: DashboardContext,
  accountId: string,
  input: { name: string; environment: Environment } & PolicyChanges,
): Promise<App> {
  await checkLiveAllowed(ctx, accountId, input.environment);
  return createApp(ctx, { ...input, account_id: accountId });
}

export async function changeAccountApp(
  ctx: DashboardContext,
  accountId: string,
  appId: string,
  changes: PolicyChanges & { name?: string; environment?: Environment },
): Promise<App> {
  const app = await accountApp(ctx, accountId, appId);
  if (changes.environment !== app.environment) await checkLiveAllowed(ctx, accountId, changes.environment);
  return changeApp(ctx, appId, changes);
}

export async function listAccountKeys(ctx: DashboardContext, accountId: string, appId: string) {
  await accountApp(ctx, accountId, appId);
  return listKeys(ctx, appId);
}

export async function createAccountKey(ctx: DashboardContext, accountId: string, appId: string) {
  await accountApp(ctx, accountId, appId);
  return createKey(ctx, appId);
}

export async function revokeAccountKey(ctx: DashboardContext, accountId: string, keyId: string) {
  const key = await findApiKey(ctx.store.db, keyId);
  if (!key || key.account_id !== accountId) throw new OtpdError('NOT_FOUND', `No key ${keyId}.`);
  return revokeKey(ctx, keyId);
}

/** The OTP services act for a tenant; the dashboard acts as its user, on the app it names. */
export const actingTenant = (app: App, userId: string): Tenant => ({
  account_id: app.account_id,
  app,
  key_id: userId,
});

export async function listAccountOtps(
  ctx: DashboardContext,
  accountId: string,
  userId: string,
  appId: string,
  filter: OtpListFilter,
) {
  const app = await accountApp(ctx, accountId, appId);
  return listOtpRecords(ctx, actingTenant(app, userId), filter);
}

export interface TimelineEntry {
  type: ActivityEntry['type'];
  detail: Record<string, unknown>;
  created_at: string;
}

/**
 * One OTP as the explorer shows it: its record, deliveries, verification
 * attempts and its timeline (created, each delivery attempt and receipt,
 * each verification, the end), oldest first. Never the code.
 */
export async function explainOtp(
  ctx: DashboardContext,
  accountId: string,
  userId: string,
  appId: string,
  otpId: string,
) {
  const app = await accountApp(ctx, accountId, appId);
  const tenant = actingTenant(app, userId);
  const detail = await getOtp(ctx, tenant, otpId);
  const attempts = await listOtpAttempts(ctx, tenant, otpId);
  const activity = await listActivity(ctx, appId, { otp_id: otpId, limit: 100 });
  const timeline: TimelineEntry[] = activity.items
    .map((entry) => ({ type: entry.type, detail: entry.detail, created_at: entry.created_at }))
    .reverse();
  return { ...detail, attempts_log: attempts.items, timeline };
}

export interface LiveRequest {
  id: string;
  account_id: string;
  use_case: string;
  expected_volume: string;
  status: 'pending' | 'approved' | 'rejected';
  review_note: string | null;
  created_at: string;
  reviewed_at: string | null;
}

export const toLiveRequest = (row: LiveRequestRow): LiveRequest => ({
  id: row.id,
  account_id: row.account_id,
  use_case: row.use_case,
  expected_volume: row.expected_volume,
  status: row.status as LiveRequest['status'],
  review_note: row.review_note,
  created_at: iso(row.created_at)!,
  reviewed_at: iso(row.reviewed_at),
});

/** The account's approved live-mode request, else its latest one, if any. */
export async function liveModeOf(ctx: DashboardContext, accountId: string): Promise<LiveRequest | null> {
  const [approved] = await listLiveRequests(ctx.store.db, { accountId, status: 'approved', limit: 1 });
  const [latest] = approved ? [approved] : await listLiveRequests(ctx.store.db, { accountId, limit: 1 });
  return latest ? toLiveRequest(latest) : null;
}

/** Asks for live mode; while one request is pending (or once one is approved) that one is the answer. */
export async function requestLiveMode(
  ctx: DashboardContext,
  accountId: string,
  userId: string,
  input: { use_case: string; expected_volume: string },
): Promise<LiveRequest> {
  const current = await liveModeOf(ctx, accountId);
  if (current && current.status !== 'rejected') return current;
  const now = ctx.clock.now();
  const inserted = await insertLiveRequestIfNonePending(ctx.store.db, {
    id: newDashboardId('lmr', now),
    account_id: accountId,
    user_id: userId,
    use_case: input.use_case,
    expected_volume: input.expected_volume,
    status: 'pending',
    review_note: null,
    created_at: now,
    reviewed_at: null,
  });
  // Two requests at once: the unique pending index let one in; both answer with it.
  return inserted ? toLiveRequest(inserted) : (await liveModeOf(ctx, accountId))!;
}

export async function listAllLiveRequests(
  ctx: DashboardContext,
  filter: { status?: string; cursor?: string; limit: number },
) {
  const rows = await listLiveRequests(ctx.store.db, {
    status: filter.status,
    before: filter.cursor,
    limit: filter.limit,
  });
  const more = rows.length > filter.limit;
  const items = (more ? rows.slice(0, filter.limit) : rows).map(toLiveRequest);
  return { items, next_cursor: more ? items.at(-1)!.id : null };
}

/** An operator's decision; a request that is no longer pending answers as it stands. */
export async function reviewLiveMode(
  ctx: DashboardContext,
  id: string,
  decision: { status: 'approved' | 'rejected'; note?: string },
): Promise<LiveRequest> {
  const reviewed = await reviewLiveRequest(ctx.store.db, id, {
    status: decision.status,
    review_note: decision.note ?? null,
    reviewed_at: ctx.clock.now(),
  });
  if (reviewed) return toLiveRequest(reviewed);
  const existing = await findLiveRequest(ctx.store.db, id);
  if (!existing) throw new OtpdError('NOT_FOUND', `No live-mode request ${id}.`);
  return toLiveRequest(existing);
}

/** The home page's summary of an account. */
export async function accountSummary(ctx: DashboardContext, accountId: string) {
  const account = await getAccount(ctx, accountId);
  const apps = await listAccountApps(ctx, accountId);
  return { account, apps: apps.length, live_mode: await liveModeOf(ctx, accountId) };
}
