import { recordActivity } from '../activity/log.js';
import type { Context } from '../context.js';
import { type CodeType, normaliseSubmittedCode } from '../core/codes.js';
import { hashCode, safeEqual } from '../core/crypto.js';
import { invalid, OtpdError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import { type Db, readsOf } from '../store/db.js';
import {
  consumeOtp,
  countAttempt,
  endOtp,
  findLatestOtpForPhone,
  findOtp,
  findPendingOtp,
  insertAttempt,
  type OtpRow,
} from '../store/otps.js';
import type { Tenant } from '../tenancy/keys.js';
import { otpMetrics } from './metrics.js';
import { effectiveStatus, endedError } from './record.js';
import { resolvePhone } from './send.js';

export interface VerifyInput {
  otp_id?: string;
  phone?: string;
  code: string;
}

export interface Verified {
  verified: true;
  otp_id: string;
  phone: string;
  status: 'verified';
  reference: string | null;
  metadata: Record<string, unknown> | null;
  verified_at: string;
}

/** Finds the OTP a verification is about: by id, or the phone's pending (else latest) one. */
async function locate(ctx: Context, tenant: Tenant, input: VerifyInput): Promise<OtpRow> {
  // Not behind a write group: the counted attempt below is what is exact.
  const db = readsOf(ctx.store);
  if (input.otp_id !== undefined) {
    const row = await findOtp(db, tenant.app.id, input.otp_id);
    if (!row) throw new OtpdError('OTP_NOT_FOUND', undefined, { field: 'otp_id' });
    // Both given: they must name the same OTP, or a caller could verify one phone's code for another.
    if (input.phone !== undefined && resolvePhone(tenant.app, input.phone).e164 !== row.phone) {
      throw new OtpdError('OTP_NOT_FOUND', 'No OTP with this otp_id was sent to this phone number.', {
        field: 'phone',
      });
    }
    return row;
  }
  if (input.phone === undefined) throw invalid('otp_id', 'Give otp_id, or phone, with the code.');
  const phone = resolvePhone(tenant.app, input.phone).e164;
  const row =
    (await findPendingOtp(db, tenant.app.id, phone)) ??
    (await findLatestOtpForPhone(db, tenant.app.id, phone));
  if (!row) throw new OtpdError('OTP_NOT_FOUND', 'No OTP was sent to this phone number.', { field: 'phone' });
  return row;
}

/** Ends a pending OTP whose time ran out, and answers why it cannot be used. */
export async function refuseEnded(ctx: Context, row: OtpRow, now: number): Promise<OtpdError> {
  if (row.status === 'pending' && effectiveStatus(row, now) === 'expired') {
    await ctx.store.tx(async (trx) => expire(trx, row, now));
  }
  return endedError(row, now);
}

export async function expire(db: Db, row: OtpRow, now: number): Promise<void> {
  if (await endOtp(db, row.id, 'expired', now)) {
    await recordActivity(db, now, {
      account_id: row.account_id,
      app_id: row.app_id,
      type: 'otp.expired',
      otp_id: row.id,
    });
  }
}

type Outcome =
  | { kind: 'verified'; row: OtpRow }
  | { kind: 'wrong'; row: OtpRow; remaining: number }
  | { kind: 'ended'; row: OtpRow };

/**
 * Checks a code. The attempt is counted by a guarded increment before the
 * code is compared, and the OTP is consumed by a guarded update: of N
 * parallel guesses at most max_attempts are compared, and of N parallel
 * right codes exactly one verifies.
 */
export async function verifyOtp(ctx: Context, tenant: Tenant, input: VerifyInput): Promise<Verified> {
  const found = await locate(ctx, tenant, input);
  const now = ctx.clock.now();
  if (effectiveStatus(found, now) !== 'pending') throw await refuseEnded(ctx, found, now);

  const outcome = await ctx.store.tx(async (trx): Promise<Outcome> => {
    const counted = await countAttempt(trx, found.id, now);
    if (!counted) {
      // No attempt left, or the OTP ended since we read it.
      const current = (await findOtp(trx, tenant.app.id, found.id))!;
      if (current.status === 'pending' && current.expires_at <= now) await expire(trx, current, now);
      return { kind: 'ended', row: current };
    }
    const submitted = normaliseSubmittedCode(counted.code_type as CodeType, input.code);
    const right = safeEqual(hashCode(ctx.keyring, counted.id, submitted), counted.code_hmac);
    const base = {
      account_id: counted.account_id,
      app_id: counted.app_id,
      otp_id: counted.id,
      key_id: tenant.key_id,
    };
    await insertAttempt(trx, {
      id: newId('att', now),
      otp_id: counted.id,
      app_id: counted.app_id,
      outcome: right ? 'correct' : 'incorrect',
      created_at: now,
    });
    if (right) {
      const consumed = await consumeOtp(trx, counted.id, now);
      if (!consumed) return { kind: 'ended', row: (await findOtp(trx, tenant.app.id, counted.id))! };
      await recordActivity(trx, now, {
        ...base,
        type: 'otp.verified',
        detail: { attempts: counted.attempts },
      });
      return { kind: 'verified', row: consumed };
    }
    const remaining = counted.max_attempts - counted.attempts;
    if (remaining === 0) {
      await endOtp(trx, counted.id, 'max_attempts', now);
      await recordActivity(trx, now, {
        ...base,
        type: 'otp.max_attempts',
        detail: { attempts: counted.attempts },
      });
    } else {
      await recordActivity(trx, now, {
        ...base,
        type: 'otp.verification_failed',
        detail: { attempts_remaining: remaining },
      });
    }
    return { kind: 'wrong', row: counted, remaining };
  });

  otpMetrics.verifications.inc({ outcome: outcome.kind });
  if (outcome.kind === 'ended') {
    // A pending row that could not be counted has used all its attempts.
    if (outcome.row.status === 'pending' && outcome.row.attempts >= outcome.row.max_attempts) {
      throw new OtpdError('MAX_ATTEMPTS_EXCEEDED', undefined, {
        otp_id: outcome.row.id,
        attempts_remaining: 0,
      });
    }
    throw endedError(outcome.row, now);
  }
  if (outcome.kind === 'wrong') {
    throw new OtpdError('INVALID_OTP', undefined, {
      otp_id: outcome.row.id,
      attempts_remaining: outcome.remaining,
    });
  }
  const { row } = outcome;
  return {
    verified: true,
    otp_id: row.id,
    phone: row.phone,
    status: 'verified',
    reference: row.reference,
    metadata: row.metadata ? (JSON.parse(row.metadata) as Record<string, unknown>) : null,
    verified_at: new Date(row.verified_at!).toISOString(),
  };
}
