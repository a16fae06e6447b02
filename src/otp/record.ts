import { iso } from '../context.js';
import { OtpdError } from '../core/errors.js';
import type { Channel } from '../core/policy.js';
import type { OtpRow } from '../store/otps.js';

export type OtpStatus = 'pending' | 'verified' | 'expired' | 'canceled' | 'max_attempts' | 'failed';

/** What the API shows of an OTP: never the code. */
export interface OtpRecord {
  otp_id: string;
  app_id: string;
  phone: string;
  country: string | null;
  channel: Channel;
  status: OtpStatus;
  reference: string | null;
  metadata: Record<string, unknown> | null;
  attempts: number;
  max_attempts: number;
  attempts_remaining: number;
  send_count: number;
  expires_at: string;
  resend_available_at: string | null;
  created_at: string;
  verified_at: string | null;
}

/** The status as of `now`: a pending OTP past its time is expired before any sweep. */
export function effectiveStatus(row: OtpRow, now: number): OtpStatus {
  if (row.status === 'pending' && row.expires_at <= now) return 'expired';
  return row.status as OtpStatus;
}

export function toRecord(row: OtpRow, now: number): OtpRecord {
  const status = effectiveStatus(row, now);
  const resendAt = row.last_sent_at + row.resend_cooldown * 1000;
  return {
    otp_id: row.id,
    app_id: row.app_id,
    phone: row.phone,
    country: row.country,
    channel: row.channel as Channel,
    status,
    reference: row.reference,
    metadata: row.metadata ? (JSON.parse(row.metadata) as Record<string, unknown>) : null,
    attempts: row.attempts,
    max_attempts: row.max_attempts,
    attempts_remaining: status === 'pending' ? Math.max(0, row.max_attempts - row.attempts) : 0,
    send_count: row.send_count,
    expires_at: iso(row.expires_at)!,
    resend_available_at: status === 'pending' ? iso(Math.max(resendAt, row.created_at)) : null,
    created_at: iso(row.created_at)!,
    verified_at: iso(row.verified_at),
  };
}

/** Why an OTP that is no longer pending cannot be used: each end has its own code. */
export function endedError(row: OtpRow, now: number): OtpdError {
  const extras = { otp_id: row.id };
  switch (effectiveStatus(row, now)) {
    case 'verified':
      return new OtpdError('OTP_ALREADY_VERIFIED', undefined, extras);
    case 'expired':
      return new OtpdError('OTP_EXPIRED', undefined, extras);
    case 'canceled':
      return new OtpdError('OTP_CANCELED', undefined, extras);
    case 'max_attempts':
      return new OtpdError('MAX_ATTEMPTS_EXCEEDED', undefined, { ...extras, attempts_remaining: 0 });
    case 'failed':
      return new OtpdError('OTP_DELIVERY_FAILED', undefined, extras);
    case 'pending':
      throw new Error(`OTP ${row.id} is pending`);
  }
}
