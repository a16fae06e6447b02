import { OtpdError } from '../core/errors.js';
import type { Db } from '../store/db.js';
import { readWindows, takeFromWindow } from '../store/rate-limits.js';

/**
 * Limits on the dashboard's doors, counted in the same windows as the send
 * limits (src/limits). Each attempt counts, right or wrong, before any
 * password is hashed: they bound guessing and the CPU a stranger can spend.
 */
export const AUTH_LIMITS = {
  /** Logins per email address. */
  login_email: { max: 10, window: 900 },
  /** Logins per client IP. */
  login_ip: { max: 100, window: 900 },
  /** Second-factor codes per user (a 6-digit code is 1 in 10^6, 3 steps valid). */
  second_factor: { max: 10, window: 900 },
  /** Sign-ups per client IP. */
  signup_ip: { max: 20, window: 3600 },
  /** Verification and reset mails per address: nobody can mail-bomb an inbox through otpd. */
  mail_address: { max: 5, window: 3600 },
} as const;

export type AuthScope = keyof typeof AUTH_LIMITS;

export async function takeAuthLimit(db: Db, scope: AuthScope, subject: string, now: number): Promise<void> {
  const { max, window } = AUTH_LIMITS[scope];
  const key = `${scope}:${subject}`;
  if (await takeFromWindow(db, key, max, window * 1000, now)) return;
  const open = (await readWindows(db, [key])).get(key);
  throw new OtpdError(
    'RATE_LIMIT_EXCEEDED',
    `Too many attempts (${max} per ${window / 60} minutes); wait a while.`,
    {
      scope,
      retry_after: Math.max(1, Math.ceil(((open?.reset_at ?? now) - now) / 1000)),
    },
  );
}
