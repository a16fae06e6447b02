import { OtpdError } from '../core/errors.js';
import type { OtpRecord } from '../otp/record.js';
import type { SendInput } from '../otp/send.js';
import type { CompatAnswer } from './answer.js';

/**
 * NEXO ROUTE's `POST /api/v1/send-otp`: the wallet generates the code
 * (and verifies it itself); otpd delivers it. Only for apps with
 * `allow_custom_code`.
 */

export interface NexoSend {
  phone: string;
  code: string;
}

export const toSendInput = (body: NexoSend): SendInput => ({ phone: body.phone, code: body.code });

/** The OTP's id is what its delivery webhooks (otp.sent, otp.delivered, otp.failed) carry. */
export const sentAnswer = (record: OtpRecord) => ({
  success: true as const,
  id: record.otp_id,
  phone: record.phone,
  status: 'queued' as const,
  expires_at: record.expires_at,
});

/**
 * Whether the engine refused a caller's code because the app does not take
 * caller codes: it refuses every code of such an app before reading it, so
 * an INVALID_REQUEST about `code` from the engine can only be that.
 */
export const isCustomCodeRefusal = (error: unknown, allowsCustomCode: boolean): boolean =>
  !allowsCustomCode &&
  error instanceof OtpdError &&
  error.code === 'INVALID_REQUEST' &&
  error.extras.field === 'code';

export const customCodeRefused = (): CompatAnswer => ({
  status: 403,
  body: {
    success: false,
    error: 'CUSTOM_CODE_NOT_ALLOWED',
    message: 'This app does not send caller-generated codes; its operator can turn on allow_custom_code.',
  },
});

/** `{success: false, error: CODE, message, ...}` with otpd's code and status; extras in snake_case. */
export function errorAnswer(error: OtpdError): CompatAnswer {
  const { field, retry_after, otp_id, scope } = error.extras;
  return {
    status: error.status,
    body: {
      success: false,
      error: error.code,
      message: error.message,
      ...(field !== undefined && { field }),
      ...(retry_after !== undefined && { retry_after }),
      ...(otp_id !== undefined && { id: otp_id }),
      ...(scope !== undefined && { scope }),
    },
  };
}
