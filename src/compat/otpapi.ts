import type { CodeType } from '../core/codes.js';
import type { OtpdError } from '../core/errors.js';
import type { Channel } from '../core/policy.js';
import type { OtpDetail } from '../otp/read.js';
import type { SendInput } from '../otp/send.js';
import type { VerifyInput } from '../otp/verify.js';
import { type CompatAnswer, type FieldNames, renameField, renameKeys } from './answer.js';

/**
 * The generic OTP API (`/otp/send`, `/otp/verify`, … with `appid`,
 * `recipient`, `verification_id`, `otp_code`) over otpd's engine. The
 * reference documents its requests, not its answers: these answer in otpd's
 * envelope, in the reference's words.
 */

export interface OtpapiSend {
  appid?: string;
  recipient: string;
  channel?: Channel;
  from?: string;
  reference?: string;
  metadata?: Record<string, unknown>;
  message?: string;
  code_type?: CodeType;
  code_length?: number;
  expiry?: number;
  max_attempts?: number;
  locale?: string;
  ip?: string;
}

export interface OtpapiVerify {
  appid?: string;
  recipient?: string;
  otp_code: string;
  verification_id?: string;
}

/** otpd's names in the reference's words, in answers and in the `field` of errors. */
export const NAMES: FieldNames = {
  otp_id: 'verification_id',
  app_id: 'appid',
  phone: 'recipient',
  sender_id: 'from',
  code: 'otp_code',
};

export function toSendInput(body: OtpapiSend): SendInput {
  const { appid: _appid, recipient, from, ...rest } = body;
  return { ...rest, phone: recipient, sender_id: from };
}

export const toVerifyInput = (body: OtpapiVerify): VerifyInput => ({
  otp_id: body.verification_id,
  phone: body.recipient,
  code: body.otp_code,
});

/** Any record of the engine (OTP, attempt list, log entry) in the reference's words. */
export const renamed = (record: object) => renameKeys(record, NAMES);

export const detailAnswer = (detail: OtpDetail) => ({
  ...renamed(detail),
  deliveries: detail.deliveries.map(renamed),
});

export const ok = (requestId: string, data: unknown) => ({
  success: true as const,
  data,
  request_id: requestId,
});

/** otpd's envelope, status and codes, with the extras and `field` in the reference's words. */
export function errorAnswer(error: OtpdError, requestId: string): CompatAnswer {
  const { field, ...extras } = error.extras;
  return {
    status: error.status,
    body: {
      success: false,
      error: {
        code: error.code,
        message: error.message,
        ...(field !== undefined && { field: renameField(field, NAMES) }),
        ...renamed(extras),
      },
      request_id: requestId,
    },
  };
}
