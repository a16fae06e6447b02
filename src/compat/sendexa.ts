import type { CodeType } from '../core/codes.js';
import { type ErrorCode, invalid, type OtpdError } from '../core/errors.js';
import type { OtpRecord } from '../otp/record.js';
import type { SendInput } from '../otp/send.js';
import type { VerifyInput } from '../otp/verify.js';
import { type CompatAnswer, type FieldNames, renameField } from './answer.js';

/**
 * Sendexa's OTP API (`/v1/otp/request`, `/v1/otp/verify`) over otpd's engine:
 * camelCase fields, `pinType` in capitals, expiry as `{amount, duration}`,
 * `{amount}` and `{duration}` in the message, and its own error codes.
 */

export const PIN_TYPES = ['NUMERIC', 'ALPHANUMERIC', 'ALPHABETIC'] as const;
export const DURATIONS = ['minute', 'minutes', 'hour', 'hours'] as const;

export interface SendexaRequest {
  phone: string;
  from?: string;
  message?: string;
  pinLength?: number;
  pinType?: (typeof PIN_TYPES)[number];
  expiry?: { amount: number; duration: (typeof DURATIONS)[number] };
  maxAttempts?: number;
  metadata?: Record<string, unknown>;
}

export interface SendexaVerify {
  id: string;
  pin: string;
}

/** otpd's field names in Sendexa's words, for the `field` of an error. */
const NAMES: FieldNames = {
  sender_id: 'from',
  code_length: 'pinLength',
  code_type: 'pinType',
  max_attempts: 'maxAttempts',
  otp_id: 'id',
  code: 'pin',
};

const PLACEHOLDER = /\{(\w+)\}/g;
/** Sendexa's placeholders, plus otpd's own {minutes} and {app}, which the engine fills in. */
const PLACEHOLDERS = new Set(['code', 'amount', 'duration', 'minutes', 'app']);

const secondsOf = (expiry: NonNullable<SendexaRequest['expiry']>): number =>
  expiry.amount * (expiry.duration.startsWith('hour') ? 3600 : 60);

/** `{amount}` and `{duration}` of an expiry in seconds: whole hours read as hours, else minutes. */
export function expiryWords(seconds: number): { amount: number; duration: string } {
  const hours = seconds % 3600 === 0;
  const amount = hours ? seconds / 3600 : Math.ceil(seconds / 60);
  const unit = hours ? 'hour' : 'minute';
  return { amount, duration: amount === 1 ? unit : `${unit}s` };
}

/**
 * The send that a Sendexa request asks for. `{amount}` and `{duration}` are
 * fixed at request time (from `expiry`, else from the app's expiry): they are
 * written into the template, and `{code}` stays for the engine to fill in.
 */
export function toSendInput(body: SendexaRequest, appExpiry: number): SendInput {
  const expiry = body.expiry === undefined ? undefined : secondsOf(body.expiry);
  if (expiry !== undefined && (expiry < 60 || expiry > 86400)) {
    throw invalid('expiry', 'expiry must be from 1 minute to 24 hours.');
  }
  let message: string | undefined;
  if (body.message !== undefined) {
    for (const [, name] of body.message.matchAll(PLACEHOLDER)) {
      if (!PLACEHOLDERS.has(name!)) {
        throw invalid('message', `Unknown placeholder {${name}}; use {code}, {amount} or {duration}.`);
      }
    }
    const words = body.expiry ?? expiryWords(expiry ?? appExpiry);
    message = body.message
      .replaceAll('{amount}', String(words.amount))
      .replaceAll('{duration}', words.duration);
  }
  return {
    phone: body.phone,
    sender_id: body.from,
    message,
    code_type: body.pinType?.toLowerCase() as CodeType | undefined,
    code_length: body.pinLength,
    expiry,
    max_attempts: body.maxAttempts,
    metadata: body.metadata,
  };
}

export const toVerifyInput = (body: SendexaVerify): VerifyInput => ({ otp_id: body.id, code: body.pin });

export const requestAnswer = (record: OtpRecord) => ({
  success: true as const,
  data: { id: record.otp_id, expiresAt: record.expires_at },
});

export const verifiedAnswer = () => ({
  success: true as const,
  message: 'OTP verified successfully',
  data: { verified: true as const },
});

/** otpd's codes that Sendexa documents under another code, status or message. */
const MAPPED: Partial<Record<ErrorCode, { status: number; code: string; message: string }>> = {
  ACTIVE_OTP_EXISTS: {
    status: 400,
    code: 'ACTIVE_OTP_EXISTS',
    message: 'An unexpired OTP is already active for this phone.',
  },
  INVALID_OTP: { status: 400, code: 'INVALID_PIN', message: 'Wrong code entered.' },
  OTP_EXPIRED: { status: 400, code: 'OTP_EXPIRED', message: 'The OTP has passed its expiry time.' },
  OTP_NOT_FOUND: {
    status: 404,
    code: 'OTP_NOT_FOUND',
    message: 'The OTP ID does not exist or was already verified.',
  },
  // Sendexa documents a verified OTP as gone: "does not exist or was already verified".
  OTP_ALREADY_VERIFIED: {
    status: 404,
    code: 'OTP_NOT_FOUND',
    message: 'The OTP ID does not exist or was already verified.',
  },
};

/**
 * `{success: false, error: {code, message, ...}}` with Sendexa's codes where
 * it documents one (INVALID_PIN, OTP_NOT_FOUND, ACTIVE_OTP_EXISTS as a 400…)
 * and otpd's own code and status otherwise; extras in camelCase
 * (`attemptsRemaining`, `retryAfter`, `id`).
 */
export function errorAnswer(error: OtpdError): CompatAnswer {
  const mapped = MAPPED[error.code];
  const { field, attempts_remaining, retry_after, otp_id, scope, resend_available_at } = error.extras;
  return {
    status: mapped?.status ?? error.status,
    body: {
      success: false,
      error: {
        code: mapped?.code ?? error.code,
        message: mapped?.message ?? error.message,
        ...(field !== undefined && { field: renameField(field, NAMES) }),
        ...(attempts_remaining !== undefined && { attemptsRemaining: attempts_remaining }),
        ...(retry_after !== undefined && { retryAfter: retry_after }),
        ...(otp_id !== undefined && { id: otp_id }),
        ...(scope !== undefined && { scope }),
        ...(resend_available_at !== undefined && { resendAvailableAt: resend_available_at }),
      },
    },
  };
}
