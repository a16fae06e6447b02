import { randomInt } from 'node:crypto';
import { Secret, TOTP } from 'otpauth';
import { decrypt, encrypt, sha256 } from '../core/crypto.js';
import { invalid } from '../core/errors.js';
import {
  advanceTotpStep,
  countUnusedRecoveryCodes,
  deleteRecoveryCodes,
  deleteSession,
  insertRecoveryCodes,
  type UserRow,
  updateUser,
  useRecoveryCode,
} from '../store/dashboard.js';
import type { Db } from '../store/db.js';
import type { DashboardContext } from './context.js';
import { dashboardError } from './errors.js';
import { newDashboardId } from './ids.js';
import { takeAuthLimit } from './limits.js';
import { verifyPassword } from './passwords.js';
import { type ActiveSession, startSession } from './sessions.js';

const PERIOD = 30;
const RECOVERY_CODES = 10;
/** No 0/o, 1/l/i: recovery codes get typed from paper. */
const RECOVERY_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';

const totp = (secret: string, email: string) =>
  new TOTP({
    issuer: 'otpd',
    label: email,
    algorithm: 'SHA1',
    digits: 6,
    period: PERIOD,
    secret: Secret.fromBase32(secret),
  });

/** What the user types: 6 digits, or a recovery code. */
export interface SecondFactor {
  code?: string;
  recovery_code?: string;
}

const normaliseRecovery = (code: string) => code.toLowerCase().replace(/[\s-]/g, '');

function newRecoveryCode(): string {
  let code = '';
  for (let i = 0; i < 10; i++) code += RECOVERY_ALPHABET[randomInt(RECOVERY_ALPHABET.length)];
  return `${code.slice(0, 5)}-${code.slice(5)}`;
}

/** Replaces a user's recovery codes; the new ones are returned this once. */
async function replaceRecoveryCodes(db: Db, userId: string, now: number): Promise<string[]> {
  const codes = Array.from({ length: RECOVERY_CODES }, newRecoveryCode);
  await deleteRecoveryCodes(db, userId);
  await insertRecoveryCodes(
    db,
    codes.map((code) => ({
      id: newDashboardId('rcv', now),
      user_id: userId,
      hash: sha256(normaliseRecovery(code)),
      used_at: null,
      created_at: now,
    })),
  );
  return codes;
}

/** The 30-second step a code is good for under `secret`, or null. */
function stepOf(secret: string, email: string, code: string, now: number): number | null {
  const token = code.replace(/\s/g, '');
  if (!/^\d{6}$/.test(token)) return null;
  const delta = totp(secret, email).validate({ token, timestamp: now, window: 1 });
  return delta === null ? null : Math.floor(now / 1000 / PERIOD) + delta;
}

/**
 * Checks a second factor: a TOTP code (each step is accepted once, so a code
 * seen over a shoulder cannot be replayed) or an unused recovery code.
 */
export async function checkSecondFactor(
  ctx: DashboardContext,
  user: UserRow,
  input: SecondFactor,
): Promise<void> {
  if (input.code === undefined && input.recovery_code === undefined) {
    throw invalid('code', 'Give the 6-digit code from your authenticator app, or a recovery code.');
  }
  const now = ctx.clock.now();
  await takeAuthLimit(ctx.store.db, 'second_factor', user.id, now);
  if (!user.totp_secret_ciphertext) throw dashboardError('INVALID_SECOND_FACTOR');
  if (input.code !== undefined) {
    const secret = decrypt(ctx.keyring, user.totp_secret_ciphertext, user.id);
    const step = stepOf(secret, user.email, input.code, now);
    if (step === null || !(await advanceTotpStep(ctx.store.db, user.id, step, now))) {
      throw dashboardError('INVALID_SECOND_FACTOR');
    }
    return;
  }
  const hash = sha256(normaliseRecovery(input.recovery_code!));
  if (!(await useRecoveryCode(ctx.store.db, user.id, hash, now)))
    throw dashboardError('INVALID_SECOND_FACTOR');
}

/**
 * Completes a login's second factor. The pending session is replaced by a
 * new one with a new token, so a token seen before the code was given is
 * worth nothing after.
 */
export async function completeLogin(
  ctx: DashboardContext,
  session: ActiveSession,
  input: SecondFactor,
  meta: { ip: string; userAgent: string | undefined },
): Promise<{ token: string; session: ActiveSession }> {
  await checkSecondFactor(ctx, session.user, input);
  return ctx.store.tx(async (trx) => {
    await deleteSession(trx, session.id);
    return startSession(ctx, trx, session.user, meta, true);
  });
}

/** Starts two-factor setup: a new secret, kept aside until a code from it is confirmed. */
export async function beginTwoFactor(ctx: DashboardContext, user: UserRow) {
  if (user.totp_enabled_at !== null) throw dashboardError('TWO_FACTOR_ALREADY_ENABLED');
  const secret = new Secret({ size: 20 }).base32;
  const now = ctx.clock.now();
  await updateUser(ctx.store.db, user.id, {
    totp_pending_ciphertext: encrypt(ctx.keyring, secret, user.id),
    updated_at: now,
  });
  return { secret, otpauth_url: totp(secret, user.email).toString() };
}

/** Turns two-factor login on with a code from the new secret; answers the recovery codes, once. */
export async function enableTwoFactor(ctx: DashboardContext, user: UserRow, code: string) {
  if (user.totp_enabled_at !== null) throw dashboardError('TWO_FACTOR_ALREADY_ENABLED');
  if (!user.totp_pending_ciphertext) throw invalid('code', 'Start the setup first.');
  const now = ctx.clock.now();
  await takeAuthLimit(ctx.store.db, 'second_factor', user.id, now);
  const secret = decrypt(ctx.keyring, user.totp_pending_ciphertext, user.id);
  const step = stepOf(secret, user.email, code, now);
  if (step === null) throw dashboardError('INVALID_SECOND_FACTOR');
  const recoveryCodes = await ctx.store.tx(async (trx) => {
    await updateUser(trx, user.id, {
      totp_secret_ciphertext: user.totp_pending_ciphertext,
      totp_pending_ciphertext: null,
      totp_enabled_at: now,
      totp_last_step: step,
      updated_at: now,
    });
    return replaceRecoveryCodes(trx, user.id, now);
  });
  return { recovery_codes: recoveryCodes };
}

/** Turns two-factor login off: it takes the password and a second factor. */
export async function disableTwoFactor(
  ctx: DashboardContext,
  user: UserRow,
  input: SecondFactor & { password: string },
): Promise<void> {
  if (user.totp_enabled_at === null) return;
  if (!(await verifyPassword(input.password, user.password_hash)))
    throw dashboardError('INVALID_CREDENTIALS');
  await checkSecondFactor(ctx, user, input);
  const now = ctx.clock.now();
  await ctx.store.tx(async (trx) => {
    await updateUser(trx, user.id, {
      totp_secret_ciphertext: null,
      totp_pending_ciphertext: null,
      totp_enabled_at: null,
      totp_last_step: null,
      updated_at: now,
    });
    await deleteRecoveryCodes(trx, user.id);
  });
}

/** New recovery codes for a second factor; the old ones stop working. */
export async function regenerateRecoveryCodes(ctx: DashboardContext, user: UserRow, input: SecondFactor) {
  if (user.totp_enabled_at === null) throw invalid('code', 'Two-factor login is off.');
  await checkSecondFactor(ctx, user, input);
  const now = ctx.clock.now();
  return { recovery_codes: await ctx.store.tx((trx) => replaceRecoveryCodes(trx, user.id, now)) };
}

export const recoveryCodesLeft = (ctx: DashboardContext, userId: string) =>
  countUnusedRecoveryCodes(ctx.store.db, userId);
