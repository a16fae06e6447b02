import { recordActivity } from '../activity/log.js';
import type { Context } from '../context.js';
import { iso } from '../context.js';
import { CODE_SPECS, type CodeType } from '../core/codes.js';
import { invalid, OtpdError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import { type Page, pageOf } from '../core/pagination.js';
import {
  type AppPolicy,
  type Channel,
  checkPolicy,
  DEFAULT_POLICY,
  type Environment,
  LIMIT_BOUNDS,
  LIMIT_SCOPES,
  type Limit,
  type LimitScope,
  type Limits,
} from '../core/policy.js';
import { type AppRow, findAccount, findApp, insertApp, listApps, updateApp } from '../store/tenancy.js';
import { forgetCachedKeys } from './keys.js';

export interface App extends AppPolicy {
  id: string;
  account_id: string;
  name: string;
  environment: Environment;
  created_at: string;
  updated_at: string;
}

export function toApp(row: AppRow): App {
  return {
    id: row.id,
    account_id: row.account_id,
    name: row.name,
    environment: row.environment as Environment,
    code_type: row.code_type as CodeType,
    code_length: row.code_length,
    expiry: row.expiry,
    max_attempts: row.max_attempts,
    resend_cooldown: row.resend_cooldown,
    channels: JSON.parse(row.channels) as Channel[],
    default_channel: row.default_channel as Channel,
    default_country: row.default_country,
    sender_id: row.sender_id,
    message: row.message,
    allowed_countries: row.allowed_countries ? (JSON.parse(row.allowed_countries) as string[]) : null,
    allow_custom_code: row.allow_custom_code === 1,
    limits: JSON.parse(row.limits) as Partial<Limits>,
    fallback_channels: JSON.parse(row.fallback_channels) as Channel[],
    fallback_after: row.fallback_after,
    send_channels: row.send_channels ? (JSON.parse(row.send_channels) as Channel[]) : null,
    created_at: iso(row.created_at)!,
    updated_at: iso(row.updated_at)!,
  };
}

function policyColumns(policy: AppPolicy) {
  return {
    code_type: policy.code_type,
    code_length: policy.code_length,
    expiry: policy.expiry,
    max_attempts: policy.max_attempts,
    resend_cooldown: policy.resend_cooldown,
    channels: JSON.stringify(policy.channels),
    default_channel: policy.default_channel,
    default_country: policy.default_country,
    sender_id: policy.sender_id,
    message: policy.message,
    allowed_countries: policy.allowed_countries ? JSON.stringify(policy.allowed_countries) : null,
    allow_custom_code: policy.allow_custom_code ? 1 : 0,
    limits: JSON.stringify(policy.limits),
    fallback_channels: JSON.stringify(policy.fallback_channels),
    fallback_after: policy.fallback_after,
    send_channels: policy.send_channels ? JSON.stringify(policy.send_channels) : null,
  };
}

function checkLimits(limits: Partial<Limits>): void {
  for (const [scope, limit] of Object.entries(limits)) {
    if (!(LIMIT_SCOPES as readonly string[]).includes(scope)) {
      throw invalid(`limits.${scope}`, `Unknown limit scope ${scope}; use ${LIMIT_SCOPES.join(', ')}.`);
    }
    const { maxMin, maxMax, windowMin, windowMax } = LIMIT_BOUNDS;
    if (!Number.isInteger(limit.max) || limit.max < maxMin || limit.max > maxMax) {
      throw invalid(`limits.${scope}.max`, `max must be an integer ${maxMin}–${maxMax}.`);
    }
    if (!Number.isInteger(limit.window) || limit.window < windowMin || limit.window > windowMax) {
      throw invalid(`limits.${scope}.window`, `window must be ${windowMin}–${windowMax} seconds.`);
    }
  }
}

/** Policy changes: `limits` merges by scope, and a scope set to null drops its override. */
export type PolicyChanges = Partial<Omit<AppPolicy, 'limits'>> & {
  limits?: Partial<Record<LimitScope, Limit | null>>;
};

/** Applies changes and fills what follows from them (the default length of a new code type). */
function withDefaults(base: AppPolicy, changes: PolicyChanges): AppPolicy {
  const { limits: limitChanges, ...rest } = changes;
  const merged: AppPolicy = { ...base, ...rest, limits: { ...base.limits } };
  for (const [scope, limit] of Object.entries(limitChanges ?? {})) {
    if (limit === null) delete merged.limits[scope as LimitScope];
    else merged.limits[scope as LimitScope] = limit;
  }
  if (changes.code_type && changes.code_length === undefined && changes.code_type !== base.code_type) {
    merged.code_length = CODE_SPECS[changes.code_type].default;
  }
  if (
    changes.channels &&
    changes.default_channel === undefined &&
    !changes.channels.includes(merged.default_channel)
  ) {
    merged.default_channel = changes.channels[0]!;
  }
  if (merged.allowed_countries)
    merged.allowed_countries = merged.allowed_countries.map((c) => c.toUpperCase());
  if (merged.default_country) merged.default_country = merged.default_country.toUpperCase();
  return merged;
}

export async function createApp(
  ctx: Context,
  input: { account_id: string; name: string; environment: Environment } & PolicyChanges,
): Promise<App> {
  const { account_id, name, environment, ...changes } = input;
  if (!(await findAccount(ctx.store.db, account_id))) {
    throw new OtpdError('NOT_FOUND', `No account ${account_id}.`, { field: 'account_id' });
  }
  const policy = withDefaults(DEFAULT_POLICY, changes);
  checkPolicy(policy);
  checkLimits(policy.limits);
  const now = ctx.clock.now();
  const row = await ctx.store.tx(async (trx) => {
    const app = await insertApp(trx, {
      id: newId('app', now),
      account_id,
      name,
      environment,
      ...policyColumns(policy),
      created_at: now,
      updated_at: now,
    });
    await recordActivity(trx, now, {
      account_id,
      app_id: app.id,
      type: 'app.created',
      detail: { name, environment },
    });
    return app;
  });
  return toApp(row);
}

export async function getApp(ctx: Context, id: string): Promise<App> {
  const row = await findApp(ctx.store.db, id);
  if (!row) throw new OtpdError('NOT_FOUND', `No app ${id}.`);
  return toApp(row);
}

export async function listAllApps(
  ctx: Context,
  page: { limit: number; cursor?: string; account_id?: string },
): Promise<Page<App>> {
  const rows = await listApps(ctx.store.db, {
    limit: page.limit,
    after: page.cursor,
    accountId: page.account_id,
  });
  return pageOf(rows, page.limit, toApp);
}

export async function changeApp(
  ctx: Context,
  id: string,
  changes: PolicyChanges & { name?: string; environment?: Environment },
): Promise<App> {
  const current = await getApp(ctx, id);
  const { name, environment, ...policyChanges } = changes;
  const policy = withDefaults(current, policyChanges);
  checkPolicy(policy);
  checkLimits(policy.limits);
  const now = ctx.clock.now();
  const row = await ctx.store.tx(async (trx) => {
    const updated = await updateApp(trx, id, {
      ...policyColumns(policy),
      ...(name !== undefined ? { name } : {}),
      ...(environment !== undefined ? { environment } : {}),
      updated_at: now,
    });
    await recordActivity(trx, now, {
      account_id: current.account_id,
      app_id: id,
      type: 'app.updated',
      detail: { fields: Object.keys(changes) },
    });
    return updated;
  });
  if (!row) throw new OtpdError('NOT_FOUND', `No app ${id}.`);
  // Requests of this process authenticate against the new policy at once (others within a second).
  forgetCachedKeys(ctx);
  return toApp(row);
}
