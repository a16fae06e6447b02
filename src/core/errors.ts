/**
 * The one table of otpd's error codes: code → HTTP status → default message.
 * The API, the CLI and the docs all read it; nothing matches on messages.
 */
export const ERRORS = {
  INVALID_REQUEST: { status: 400, message: 'The request is invalid.' },
  INVALID_JSON: { status: 400, message: 'The request body is not valid JSON.' },
  INVALID_PHONE_FORMAT: { status: 400, message: 'The phone number is not a valid number.' },
  INVALID_OTP: { status: 400, message: 'The code is incorrect.' },
  OTP_EXPIRED: { status: 400, message: 'The code has expired.' },
  OTP_CANCELED: { status: 400, message: 'The verification was canceled.' },
  OTP_DELIVERY_FAILED: { status: 400, message: 'The code could not be delivered.' },
  MAX_ATTEMPTS_EXCEEDED: {
    status: 400,
    message: 'Too many incorrect attempts; request a new code.',
  },
  MISSING_VARIABLE: { status: 400, message: 'A template variable is missing.' },
  UNKNOWN_VARIABLE: { status: 400, message: 'A template variable is not known.' },
  INVALID_VARIABLE: { status: 400, message: 'A template variable is invalid.' },
  INVALID_API_KEY: { status: 401, message: 'The API key is missing, invalid or revoked.' },
  INVALID_ADMIN_TOKEN: { status: 401, message: 'The operator token is missing or invalid.' },
  INVALID_SIGNATURE: { status: 401, message: 'The callback signature is missing or wrong.' },
  INSUFFICIENT_BALANCE: { status: 402, message: 'The account balance is too low.' },
  COUNTRY_NOT_ALLOWED: { status: 403, message: 'Sending to this country is not allowed.' },
  ENVIRONMENT_MISMATCH: {
    status: 403,
    message: "The API key's environment does not match the app's environment.",
  },
  UNSUPPORTED_CHANNEL: {
    status: 400,
    message: 'The channel is not enabled for this app or not possible for this number.',
  },
  NOT_FOUND: { status: 404, message: 'Not found.' },
  OTP_NOT_FOUND: { status: 404, message: 'No such OTP.' },
  TEMPLATE_NOT_FOUND: { status: 404, message: 'No such template.' },
  ACTIVE_OTP_EXISTS: {
    status: 409,
    message: 'An active code already exists for this phone number.',
  },
  OTP_ALREADY_VERIFIED: { status: 409, message: 'The code was already verified.' },
  IDEMPOTENCY_CONFLICT: {
    status: 409,
    message: 'A request with this Idempotency-Key is still in progress.',
  },
  API_KEY_LIMIT_REACHED: {
    status: 409,
    message: 'An app may have at most 3 active API keys; revoke one first.',
  },
  TEMPLATE_LIMIT_REACHED: {
    status: 409,
    message: 'An account may have at most 20 active (pending or approved) templates; delete one first.',
  },
  TEMPLATE_NOT_PENDING: {
    status: 409,
    message: 'Only a pending template can be approved or rejected.',
  },
  PAYLOAD_TOO_LARGE: { status: 413, message: 'The request body is too large.' },
  UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    message: 'The request body must be application/json.',
  },
  IDEMPOTENCY_KEY_REUSED: {
    status: 422,
    message: 'This Idempotency-Key was used with a different request.',
  },
  RATE_LIMIT_EXCEEDED: { status: 429, message: 'Rate limit exceeded.' },
  // The dashboard's sessions (src/dashboard/).
  SESSION_REQUIRED: { status: 401, message: 'Log in first.' },
  INVALID_CREDENTIALS: { status: 401, message: 'The email or password is incorrect.' },
  INVALID_SECOND_FACTOR: {
    status: 401,
    message: 'The authentication code is incorrect or was already used.',
  },
  INVALID_LINK: { status: 400, message: 'This link is invalid, was already used or has expired.' },
  CSRF_TOKEN_INVALID: {
    status: 403,
    message: 'The X-CSRF-Token header is missing or does not match the session; reload the page.',
  },
  EMAIL_NOT_VERIFIED: { status: 403, message: 'Verify your email address first; we sent you a link.' },
  SECOND_FACTOR_REQUIRED: {
    status: 403,
    message: 'Enter the code from your authenticator app (or a recovery code) first.',
  },
  FORBIDDEN: { status: 403, message: 'Your role may not do this.' },
  SIGNUP_CLOSED: { status: 403, message: 'Sign-up is closed on this otpd; ask its operator for an account.' },
  LIVE_MODE_NOT_APPROVED: {
    status: 403,
    message: 'Live mode needs an approved request; ask for it under Settings → Live mode.',
  },
  TWO_FACTOR_ALREADY_ENABLED: { status: 409, message: 'Two-factor login is already on.' },

  INTERNAL_ERROR: { status: 500, message: 'An internal error occurred.' },
  SERVICE_UNAVAILABLE: { status: 503, message: 'The service is temporarily unavailable.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

/** Extras that an error may carry into the envelope. */
export interface ErrorExtras {
  field?: string;
  attempts_remaining?: number;
  retry_after?: number;
  otp_id?: string;
  scope?: string;
  resend_available_at?: string;
}

/** A typed, expected failure. Thrown by services, mapped to the envelope by http. */
export class OtpdError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly extras: ErrorExtras;

  constructor(code: ErrorCode, message?: string, extras: ErrorExtras = {}) {
    super(message ?? ERRORS[code].message);
    this.name = 'OtpdError';
    this.code = code;
    this.status = ERRORS[code].status;
    this.extras = extras;
  }
}

export const invalid = (field: string, message: string): OtpdError =>
  new OtpdError('INVALID_REQUEST', message, { field });
