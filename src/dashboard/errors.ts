import { ERRORS, type ErrorCode, type ErrorExtras, OtpdError } from '../core/errors.js';

/** The dashboard's error codes (they live in the one table, src/core/errors.ts). */
export type DashboardErrorCode = Extract<
  ErrorCode,
  | 'SESSION_REQUIRED'
  | 'INVALID_CREDENTIALS'
  | 'INVALID_SECOND_FACTOR'
  | 'INVALID_LINK'
  | 'CSRF_TOKEN_INVALID'
  | 'EMAIL_NOT_VERIFIED'
  | 'SECOND_FACTOR_REQUIRED'
  | 'FORBIDDEN'
  | 'SIGNUP_CLOSED'
  | 'LIVE_MODE_NOT_APPROVED'
  | 'TWO_FACTOR_ALREADY_ENABLED'
>;

export const dashboardError = (code: DashboardErrorCode, message?: string, extras?: ErrorExtras): OtpdError =>
  new OtpdError(code, message ?? ERRORS[code].message, extras);
