import { randomBytes } from 'node:crypto';
import { iso } from '../context.js';
import { sha256 } from '../core/crypto.js';
import { OtpdError } from '../core/errors.js';
import {
  deleteSessionsOfUser,
  findUser,
  findUserByEmail,
  insertUserIfNew,
  insertUserToken,
  type UserRow,
  updateUser,
  useUserToken,
  voidUserTokens,
} from '../store/dashboard.js';
import type { Db } from '../store/db.js';
import { createAccount } from '../tenancy/accounts.js';
import type { DashboardContext } from './context.js';
import { dashboardError } from './errors.js';
import { newDashboardId } from './ids.js';
import { takeAuthLimit } from './limits.js';
import { dispatchMail, type PendingMail, writeMail } from './mail.js';
import { checkPassword, decoyHash, hashPassword, verifyPassword } from './passwords.js';

export type Role = 'tenant' | 'operator';

/** What the dashboard shows of a user: never a hash or a secret. */
export interface DashboardUser {
  id: string;
  email: string;
  role: Role;
  account_id: string | null;
  email_verified: boolean;
  two_factor: boolean;
  created_at: string;
}

export const toDashboardUser = (row: UserRow): DashboardUser => ({
  id: row.id,
  email: row.email,
  role: row.role as Role,
  account_id: row.account_id,
  email_verified: row.email_verified_at !== null,
  two_factor: row.totp_enabled_at !== null,
  created_at: iso(row.created_at)!,
});

const VERIFY_EMAIL_MS = 24 * 3600_000;
const RESET_PASSWORD_MS = 3600_000;

export const normaliseEmail = (email: string): string => email.trim().toLowerCase();

/** The same transaction for the services called inside it (their own tx() joins it). */
const within = (ctx: DashboardContext, trx: Db): DashboardContext => ({
  ...ctx,
  store: { ...ctx.store, db: trx, tx: (fn) => fn(trx) },
});

/** A single-use link: only the SHA-256 of its token is stored. */
async function issueLink(
  db: Db,
  now: number,
  userId: string,
  purpose: 'verify_email' | 'reset_password',
  lifetimeMs: number,
): Promise<string> {
  const token = randomBytes(32).toString('base64url');
  await insertUserToken(db, {
    id: newDashboardId('utk', now),
    user_id: userId,
    purpose,
    token_hash: sha256(token),
    expires_at: now + lifetimeMs,
    used_at: null,
    created_at: now,
  });
  return token;
}

// Tokens ride in the fragment: browsers send it to no server and put it in no Referer or access log.
const verifyMail = (to: string, base: string, token: string) => ({
  to,
  subject: 'Verify your email for otpd',
  text: `Welcome to otpd.\n\nOpen this link to verify your email address (it works once, for 24 hours):\n\n${base}/verify-email#token=${token}\n\nIf you did not sign up, ignore this mail.\n`,
});

export interface SignUpInput {
  email: string;
  password: string;
  /** The organisation's name, for the new account; the email's domain when missing. */
  name?: string;
}

/**
 * Signs a person up: a new account with its first (tenant) user, or an
 * operator when `role` says so (the route checked the operator token). The
 * answer is the same whether the address was free or not, so sign-up does
 * not tell strangers who has an account; the owner of a taken address gets
 * a mail saying someone tried.
 */
export async function signUp(
  ctx: DashboardContext,
  input: SignUpInput & { role: Role; ip: string },
  linkBase: string,
): Promise<{ email: string }> {
  checkPassword(input.password);
  const email = normaliseEmail(input.email);
  const now = ctx.clock.now();
  await takeAuthLimit(ctx.store.db, 'signup_ip', input.ip, now);
  await takeAuthLimit(ctx.store.db, 'mail_address', email, now);
  const passwordHash = await hashPassword(input.password);
  const taken = Symbol('taken');
  let mail: PendingMail;
  try {
    mail = await ctx.store.tx(async (trx) => {
      const accountId =
        input.role === 'tenant'
          ? (await createAccount(within(ctx, trx), { name: input.name ?? email.split('@')[1]!, email })).id
          : null;
      const user = await insertUserIfNew(trx, {
        id: newDashboardId('usr', now),
        email,
        password_hash: passwordHash,
        account_id: accountId,
        role: input.role,
        email_verified_at: null,
        totp_secret_ciphertext: null,
        totp_pending_ciphertext: null,
        totp_enabled_at: null,
        totp_last_step: null,
        created_at: now,
        updated_at: now,
      });
      // The unique email is the race gate; rolling back drops the account made for it.
      if (!user) throw taken;
      const token = await issueLink(trx, now, user.id, 'verify_email', VERIFY_EMAIL_MS);
      return writeMail(trx, ctx, verifyMail(email, linkBase, token));
    });
  } catch (error) {
    if (error !== taken) throw error;
    mail = await writeMail(ctx.store.db, ctx, {
      to: email,
      subject: 'Someone tried to sign up to otpd with your email',
      text: `Someone (perhaps you) tried to sign up with this address, which already has an otpd login.\n\nLog in at ${linkBase}/login, or reset your password at ${linkBase}/forgot-password.\n`,
    });
  }
  dispatchMail(ctx, [mail]);
  return { email };
}

/** Sends a new verification link to an unverified address; answers alike for any address. */
export async function resendVerification(ctx: DashboardContext, rawEmail: string, linkBase: string) {
  const email = normaliseEmail(rawEmail);
  const now = ctx.clock.now();
  await takeAuthLimit(ctx.store.db, 'mail_address', email, now);
  const user = await findUserByEmail(ctx.store.db, email);
  if (!user || user.email_verified_at !== null) return { email };
  const mail = await ctx.store.tx(async (trx) => {
    const token = await issueLink(trx, now, user.id, 'verify_email', VERIFY_EMAIL_MS);
    return writeMail(trx, ctx, verifyMail(email, linkBase, token));
  });
  dispatchMail(ctx, [mail]);
  return { email };
}

/** Uses a verification link. */
export async function verifyEmail(ctx: DashboardContext, token: string): Promise<DashboardUser> {
  const now = ctx.clock.now();
  return ctx.store.tx(async (trx) => {
    const userId = await useUserToken(trx, 'verify_email', sha256(token), now);
    if (!userId) throw dashboardError('INVALID_LINK');
    const user = await findUser(trx, userId);
    if (!user) throw dashboardError('INVALID_LINK');
    if (user.email_verified_at !== null) return toDashboardUser(user);
    return toDashboardUser((await updateUser(trx, userId, { email_verified_at: now, updated_at: now }))!);
  });
}

/**
 * Checks an email and password. Both limits are taken first, and a missing
 * user is checked against a decoy hash, so neither the answer nor its time
 * tells whether the address has a login.
 */
export async function checkCredentials(
  ctx: DashboardContext,
  input: { email: string; password: string; ip: string },
): Promise<UserRow> {
  const email = normaliseEmail(input.email);
  const now = ctx.clock.now();
  await takeAuthLimit(ctx.store.db, 'login_ip', input.ip, now);
  await takeAuthLimit(ctx.store.db, 'login_email', email, now);
  const user = await findUserByEmail(ctx.store.db, email);
  const right = await verifyPassword(input.password, user?.password_hash ?? (await decoyHash()));
  if (!user || !right) throw dashboardError('INVALID_CREDENTIALS');
  // Only after the right password: this says nothing a stranger could not know.
  if (user.email_verified_at === null) throw dashboardError('EMAIL_NOT_VERIFIED');
  return user;
}

/** Mails a reset link when the address has a login; answers alike either way. */
export async function requestPasswordReset(ctx: DashboardContext, rawEmail: string, linkBase: string) {
  const email = normaliseEmail(rawEmail);
  const now = ctx.clock.now();
  await takeAuthLimit(ctx.store.db, 'mail_address', email, now);
  const user = await findUserByEmail(ctx.store.db, email);
  if (!user) return { email };
  const mail = await ctx.store.tx(async (trx) => {
    const token = await issueLink(trx, now, user.id, 'reset_password', RESET_PASSWORD_MS);
    return writeMail(trx, ctx, {
      to: email,
      subject: 'Reset your otpd password',
      text: `Open this link to choose a new password (it works once, for one hour):\n\n${linkBase}/reset-password#token=${token}\n\nIf you did not ask for this, ignore this mail; your password stays as it is.\n`,
    });
  });
  dispatchMail(ctx, [mail]);
  return { email };
}

/**
 * Sets a new password with a reset link. Every session of the user ends and
 * every other reset link dies; the link also proves the address, so an
 * unverified one becomes verified.
 */
export async function resetPassword(ctx: DashboardContext, token: string, password: string) {
  checkPassword(password);
  const passwordHash = await hashPassword(password);
  const now = ctx.clock.now();
  const mail = await ctx.store.tx(async (trx) => {
    const userId = await useUserToken(trx, 'reset_password', sha256(token), now);
    if (!userId) throw dashboardError('INVALID_LINK');
    const user = (await findUser(trx, userId))!;
    await updateUser(trx, userId, {
      password_hash: passwordHash,
      email_verified_at: user.email_verified_at ?? now,
      updated_at: now,
    });
    await voidUserTokens(trx, userId, 'reset_password', now);
    await deleteSessionsOfUser(trx, userId);
    return writeMail(trx, ctx, {
      to: user.email,
      subject: 'Your otpd password was changed',
      text: 'Your otpd password was just changed and every session was logged out.\n\nIf this was not you, reset your password at once and tell your operator.\n',
    });
  });
  dispatchMail(ctx, [mail]);
  return { email: mail.to };
}

/** Changes the password of a logged-in user (who knows the current one); other sessions end. */
export async function changePassword(
  ctx: DashboardContext,
  user: UserRow,
  sessionId: string,
  input: { current_password: string; new_password: string },
) {
  checkPassword(input.new_password, 'new_password');
  if (!(await verifyPassword(input.current_password, user.password_hash))) {
    throw dashboardError('INVALID_CREDENTIALS', 'The current password is incorrect.');
  }
  const passwordHash = await hashPassword(input.new_password);
  const now = ctx.clock.now();
  await ctx.store.tx(async (trx) => {
    await updateUser(trx, user.id, { password_hash: passwordHash, updated_at: now });
    await deleteSessionsOfUser(trx, user.id, sessionId);
    // A reset link mailed before the change must not undo it.
    await voidUserTokens(trx, user.id, 'reset_password', now);
  });
}

export async function requireUser(ctx: DashboardContext, id: string): Promise<UserRow> {
  const user = await findUser(ctx.store.db, id);
  if (!user) throw new OtpdError('NOT_FOUND', `No user ${id}.`);
  return user;
}
