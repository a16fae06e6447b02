import type { ErrorCode, OtpdError } from '../core/errors.js';
import type { Channel } from '../core/policy.js';
import type { OtpRecord } from '../otp/record.js';
import type { SendInput } from '../otp/send.js';
import type { VerifyInput } from '../otp/verify.js';
import { type CompatAnswer, type FieldNames, renameField } from './answer.js';

/**
 * NexCode's plain flow over otpd's engine: `POST /otp/request` answers a
 * `request_id` (the OTP's id) with `status: "accepted"`, and `POST
 * /otp/verify` answers YES or NO: `{verified: true}` or `{verified: false}`.
 */

export interface NexcodeRequest {
  msisdn: string;
  customer_id?: string;
  channel?: Channel;
}

export interface NexcodeVerify {
  request_id: string;
  otp: string;
}

const NAMES: FieldNames = { phone: 'msisdn', reference: 'customer_id', otp_id: 'request_id', code: 'otp' };

/** `customer_id` (the business's own customer id) is kept as the OTP's reference. */
export const toSendInput = (body: NexcodeRequest): SendInput => ({
  phone: body.msisdn,
  reference: body.customer_id,
  channel: body.channel,
});

export const toVerifyInput = (body: NexcodeVerify): VerifyInput => ({
  otp_id: body.request_id,
  code: body.otp,
});

export const requestAnswer = (record: OtpRecord) => ({
  request_id: record.otp_id,
  status: 'accepted' as const,
});

/** Why a code was not accepted: each is a NO, not a failed request. */
const NO_REASONS: readonly ErrorCode[] = [
  'INVALID_OTP',
  'OTP_EXPIRED',
  'MAX_ATTEMPTS_EXCEEDED',
  'OTP_CANCELED',
  'OTP_ALREADY_VERIFIED',
  'OTP_DELIVERY_FAILED',
];

/**
 * The NO answer (200) for a verification that ran and did not accept the
 * code, with the reason in otpd's code; undefined for a failed request
 * (unknown request_id, bad body, bad key), which is an error answer.
 */
export function verdictOf(error: OtpdError) {
  if (!NO_REASONS.includes(error.code)) return undefined;
  const remaining = error.extras.attempts_remaining;
  return {
    verified: false as const,
    reason: error.code,
    ...(remaining !== undefined && { attempts_remaining: remaining }),
  };
}

/**
 * NexCode documents no error body, so a failed request answers with otpd's
 * status and code in the shape of the endpoint's own answer: `status:
 * "rejected"` beside `request_id` on a request, `verified: false` on a
 * verification; extras in snake_case, `otp_id` as `request_id`.
 */
export function errorAnswer(error: OtpdError, endpoint: 'request' | 'verify'): CompatAnswer {
  const { field, attempts_remaining, retry_after, otp_id, scope } = error.extras;
  const detail = {
    code: error.code,
    message: error.message,
    ...(field !== undefined && { field: renameField(field, NAMES) }),
    ...(attempts_remaining !== undefined && { attempts_remaining }),
    ...(retry_after !== undefined && { retry_after }),
    ...(otp_id !== undefined && { request_id: otp_id }),
    ...(scope !== undefined && { scope }),
  };
  return {
    status: error.status,
    body: endpoint === 'verify' ? { verified: false, error: detail } : { status: 'rejected', error: detail },
  };
}
