import type { ApiErrorBody, ErrorCode } from './types.js';

/**
 * An answer that did not come back `2xx`: the API's error envelope with its
 * `code`, HTTP `status`, `message`, `requestId` and the extras that apply
 * (`field`, `attempts_remaining`, `retry_after`, `otp_id`, `scope`,
 * `resend_available_at`). Branch on `code`, never on `message`.
 *
 * An answer that is not otpd's envelope (a proxy's HTML error page) has the
 * code `UNEXPECTED_RESPONSE`.
 */
export class OtpdError extends Error {
  override readonly name = 'OtpdError';
  readonly code: ErrorCode | 'UNEXPECTED_RESPONSE';
  readonly status: number;
  /** The `request_id` of the answer (`X-Request-Id`): quote it when asking about a request. */
  readonly requestId: string | null;
  /** The offending field, dotted (`limits.phone_hour.max`, `variables.name`). */
  readonly field?: string;
  /** `INVALID_OTP`: attempts left. */
  readonly attempts_remaining?: number;
  /** `RATE_LIMIT_EXCEEDED`, `ACTIVE_OTP_EXISTS`: seconds to wait. */
  readonly retry_after?: number;
  /** The OTP the error is about (`ACTIVE_OTP_EXISTS`: the active one). */
  readonly otp_id?: string;
  /** `RATE_LIMIT_EXCEEDED`: the limit that was hit (`phone_hour`, `key_minute`, …). */
  readonly scope?: string;
  readonly resend_available_at?: string;
  /** The whole `error` object as the API sent it (also extras newer than this client). */
  readonly body: Readonly<Record<string, unknown>>;

  constructor(
    status: number,
    error: Partial<ApiErrorBody> & Record<string, unknown>,
    requestId: string | null,
  ) {
    super(typeof error.message === 'string' ? error.message : `otpd answered HTTP ${status}.`);
    this.status = status;
    this.code = error.code ?? 'UNEXPECTED_RESPONSE';
    this.requestId = requestId;
    this.body = error;
    if (error.field !== undefined) this.field = error.field;
    if (error.attempts_remaining !== undefined) this.attempts_remaining = error.attempts_remaining;
    if (error.retry_after !== undefined) this.retry_after = error.retry_after;
    if (error.otp_id !== undefined) this.otp_id = error.otp_id;
    if (error.scope !== undefined) this.scope = error.scope;
    if (error.resend_available_at !== undefined) this.resend_available_at = error.resend_available_at;
  }
}

/**
 * No answer came: the connection failed, or no answer within `timeoutMs`,
 * on every attempt. A POST may still have taken effect on the server; call
 * again with the same `idempotencyKey` to find out without doing it twice.
 */
export class OtpdNetworkError extends Error {
  override readonly name = 'OtpdNetworkError';
  /** Whether the last attempt ran out of time (rather than failing to connect). */
  readonly timedOut: boolean;
  /** How many attempts were made. */
  readonly attempts: number;
  /** The `Idempotency-Key` every attempt of a POST carried. */
  readonly idempotencyKey: string | undefined;

  constructor(
    message: string,
    options: { cause: unknown; timedOut: boolean; attempts: number; idempotencyKey?: string },
  ) {
    super(message, { cause: options.cause });
    this.timedOut = options.timedOut;
    this.attempts = options.attempts;
    this.idempotencyKey = options.idempotencyKey;
  }
}

/** A webhook request whose signature, timestamp or body did not check out. Answer it with 400. */
export class WebhookVerificationError extends Error {
  override readonly name = 'WebhookVerificationError';
}
