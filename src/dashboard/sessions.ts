import { randomBytes } from 'node:crypto';
import { sha256, signToken } from '../core/crypto.js';
import {
  deleteSession,
  findSessionByToken,
  insertSession,
  touchSession,
  type UserRow,
} from '../store/dashboard.js';
import type { Db } from '../store/db.js';
import type { DashboardContext } from './context.js';
import { newDashboardId } from './ids.js';

/** A session ends a day after its last use, and a week after login at the latest. */
export const SESSION_IDLE_MS = 24 * 3600_000;
export const SESSION_MAX_MS = 7 * 24 * 3600_000;
/** A session that still owes its second factor has ten minutes to give it. */
export const PENDING_SESSION_MS = 10 * 60_000;
/** Activity moves `last_seen_at` at most this often, so reads rarely write. */
const TOUCH_EVERY_MS = 60_000;

export interface ActiveSession {
  id: string;
  user: UserRow;
  /** False while a user with two-factor login has not given the code. */
  secondFactorDone: boolean;
}

/** Starts a session; the token (for the cookie) is returned this once and stored only as a hash. */
export async function startSession(
  ctx: DashboardContext,
  db: Db,
  user: UserRow,
  meta: { ip: string; userAgent: string | undefined },
  /** Whether the second factor is given (or not needed: two-factor login is off). */
  secondFactorDone = user.totp_enabled_at === null,
): Promise<{ token: string; session: ActiveSession }> {
  const now = ctx.clock.now();
  const token = randomBytes(32).toString('base64url');
  const row = await insertSession(db, {
    id: newDashboardId('ses', now),
    token_hash: sha256(token),
    user_id: user.id,
    second_factor_done: secondFactorDone ? 1 : 0,
    created_at: now,
    last_seen_at: now,
    expires_at: now + (secondFactorDone ? SESSION_IDLE_MS : PENDING_SESSION_MS),
    ip: meta.ip,
    user_agent: meta.userAgent?.slice(0, 300) ?? null,
  });
  return { token, session: { id: row.id, user, secondFactorDone } };
}

/** The session a cookie's token names, if it is still alive; sliding its idle expiry. */
export async function findSession(ctx: DashboardContext, token: string): Promise<ActiveSession | undefined> {
  const found = await findSessionByToken(ctx.store.db, sha256(token));
  if (!found) return undefined;
  const now = ctx.clock.now();
  if (found.expires_at <= now) {
    await deleteSession(ctx.store.db, found.session_id);
    return undefined;
  }
  const done = found.second_factor_done === 1;
  if (done && now - found.last_seen_at >= TOUCH_EVERY_MS) {
    const expiresAt = Math.min(now + SESSION_IDLE_MS, found.session_created_at + SESSION_MAX_MS);
    await touchSession(ctx.store.db, found.session_id, now, expiresAt);
  }
  const { session_id, second_factor_done, last_seen_at, expires_at, session_created_at, ...user } = found;
  return { id: session_id, user, secondFactorDone: done };
}

export async function endSession(ctx: DashboardContext, id: string): Promise<void> {
  await deleteSession(ctx.store.db, id);
}

/**
 * The CSRF token of a session: an HMAC of its id. The page reads it from a
 * cookie and sends it back in X-CSRF-Token; another site can neither read
 * the cookie nor forge the HMAC, and a token planted from a sibling domain
 * does not match the victim's session.
 */
export const csrfTokenOf = (ctx: DashboardContext, sessionId: string): string =>
  signToken(ctx.keyring, 'dashboard-csrf', sessionId);
