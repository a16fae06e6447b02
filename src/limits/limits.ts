import type { Context } from '../context.js';
import { iso } from '../context.js';
import { OtpdError } from '../core/errors.js';
import type { Limit, LimitScope, Limits } from '../core/policy.js';
import type { Db } from '../store/db.js';
import { readWindows, type Take, takeFromWindows } from '../store/rate-limits.js';

/** Who a send is counted against. */
export interface SendSubject {
  app_id: string;
  key_id: string;
  phone: string;
  ip?: string | null;
  /** The template of a transactional SMS send (sms_phone_template_hour). */
  template_id?: string;
}

const OTP_SCOPES: LimitScope[] = ['phone_hour', 'phone_day', 'key_minute', 'key_day', 'ip_hour'];
const SMS_SCOPES: LimitScope[] = ['sms_phone_template_hour', 'sms_key_day'];

function counterKey(scope: LimitScope, s: SendSubject): string | undefined {
  switch (scope) {
    case 'phone_hour':
    case 'phone_day':
      return `${scope}:${s.app_id}:${s.phone}`;
    case 'key_minute':
    case 'key_day':
    case 'sms_key_day':
      return `${scope}:${s.key_id}`;
    case 'ip_hour':
      return s.ip ? `${scope}:${s.app_id}:${s.ip}` : undefined;
    case 'sms_phone_template_hour':
      // Templates belong to the account: the count spans the account's apps.
      return s.template_id ? `${scope}:${s.template_id}:${s.phone}` : undefined;
  }
}

/**
 * Counts one OTP send (or resend) against every scope, inside the caller's
 * transaction: if any scope is full the transaction rolls back, so no scope
 * is charged for a refused send. Each take is a guarded upsert, exact under
 * parallel requests and across processes.
 */
export async function takeSendLimits(
  db: Db,
  limits: Limits,
  subject: SendSubject,
  now: number,
): Promise<void> {
  await takeScopes(db, OTP_SCOPES, limits, subject, now);
}

/**
 * Counts one transactional SMS send against `sms_phone_template_hour` and
 * `sms_key_day`, inside the caller's transaction, as takeSendLimits does.
 */
export async function takeSmsLimits(
  db: Db,
  limits: Limits,
  subject: SendSubject & { template_id: string },
  now: number,
): Promise<void> {
  await takeScopes(db, SMS_SCOPES, limits, subject, now);
}

async function takeScopes(
  db: Db,
  scopes: LimitScope[],
  limits: Limits,
  subject: SendSubject,
  now: number,
): Promise<void> {
  const takes: (Take & { scope: LimitScope })[] = [];
  for (const scope of scopes) {
    const key = counterKey(scope, subject);
    if (!key) continue;
    const limit = limits[scope];
    takes.push({ scope, key, max: limit.max, windowMs: limit.window * 1000 });
  }
  const [full] = await takeFromWindows(db, takes, now);
  if (full === undefined) return;
  // The first full scope, in the order the scopes are listed, is the one reported.
  const { scope } = takes.find((t) => t.key === full)!;
  const limit = limits[scope];
  const window = (await readWindows(db, [full])).get(full);
  const retryAfter = Math.max(1, Math.ceil(((window?.reset_at ?? now) - now) / 1000));
  throw new OtpdError('RATE_LIMIT_EXCEEDED', `Limit ${scope} (${limit.max} per ${limit.window} s) reached.`, {
    scope,
    retry_after: retryAfter,
  });
}

export interface LimitStatus {
  scope: LimitScope;
  max: number;
  window: number;
  remaining: number;
  /** When the current window ends; null when no window is open. */
  reset_at: string | null;
}

/** The key's (and optionally a phone's or IP's) limits as they stand now. */
export async function readLimits(
  ctx: Context,
  limits: Limits,
  subject: { app_id: string; key_id: string; phone?: string; ip?: string },
): Promise<LimitStatus[]> {
  const scopes = OTP_SCOPES.filter((s) => {
    if (s.startsWith('phone_')) return subject.phone !== undefined;
    if (s === 'ip_hour') return subject.ip !== undefined;
    return true;
  });
  const full: SendSubject = { ...subject, phone: subject.phone ?? '' };
  const keys = new Map(scopes.map((s) => [s, counterKey(s, full)!]));
  const windows = await readWindows(ctx.store.db, [...keys.values()]);
  const now = ctx.clock.now();
  return scopes.map((scope) => {
    const limit: Limit = limits[scope];
    const window = windows.get(keys.get(scope)!);
    const open = window && window.reset_at > now;
    return {
      scope,
      max: limit.max,
      window: limit.window,
      remaining: open ? Math.max(0, limit.max - window.count) : limit.max,
      reset_at: open ? iso(window.reset_at) : null,
    };
  });
}
