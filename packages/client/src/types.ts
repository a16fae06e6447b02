import type { components, paths } from './generated/openapi.js';

/**
 * Names for the request and response shapes of `/v1`, all taken from the
 * generated OpenAPI types: when a route's schema changes, these change with it.
 */

type Method = 'get' | 'post' | 'delete';
type Operation<P extends keyof paths, M extends Method> = NonNullable<paths[P][M]>;
type Json<T> = T extends { content: { 'application/json': infer Body } } ? Body : never;
type Success<R> = { [S in keyof R]: S extends 200 | 201 ? Json<R[S]> : never }[keyof R];

/** The JSON body an operation takes. */
export type RequestBody<P extends keyof paths, M extends Method> = Json<
  NonNullable<Operation<P, M>['requestBody']>
>;
/** The query parameters an operation takes. */
export type QueryParams<P extends keyof paths, M extends Method> = NonNullable<
  Operation<P, M>['parameters']['query']
>;
/** The `data` of an operation's success envelope. */
export type ResponseData<P extends keyof paths, M extends Method> =
  Success<Operation<P, M>['responses']> extends { data: infer Data } ? Data : never;

/** The `error` object of the error envelope. */
export type ApiErrorBody = components['schemas']['ErrorEnvelope']['error'];
/** Every error code the API answers with. */
export type ErrorCode = ApiErrorBody['code'];

export type SendOtpParams = RequestBody<'/v1/otp/send', 'post'>;
export type VerifyOtpParams = RequestBody<'/v1/otp/verify', 'post'>;
export type ResendOtpParams = RequestBody<'/v1/otp/resend', 'post'>;
export type ListOtpsQuery = QueryParams<'/v1/otp', 'get'>;
/** An OTP's record (never its code). */
export type Otp = ResponseData<'/v1/otp/send', 'post'>;
/** An OTP's record with every message that delivered it. */
export type OtpDetail = ResponseData<'/v1/otp/{id}', 'get'>;
export type VerifiedOtp = ResponseData<'/v1/otp/verify', 'post'>;
export type OtpAttempts = ResponseData<'/v1/otp/{id}/attempts', 'get'>;
export type OtpPage = ResponseData<'/v1/otp', 'get'>;
export type Channel = Otp['channel'];
export type OtpStatus = Otp['status'];

/** One delivery of an OTP or a transactional SMS (never its text). */
export type Message = ResponseData<'/v1/messages/{id}', 'get'>;

export type ListLogsQuery = QueryParams<'/v1/logs', 'get'>;
export type ActivityPage = ResponseData<'/v1/logs', 'get'>;
export type ActivityEntry = ActivityPage['items'][number];

export type RateLimitsQuery = QueryParams<'/v1/rate-limits', 'get'>;
export type RateLimits = ResponseData<'/v1/rate-limits', 'get'>;

export type CreateTemplateParams = RequestBody<'/v1/templates', 'post'>;
export type ListTemplatesQuery = QueryParams<'/v1/templates', 'get'>;
export type Template = ResponseData<'/v1/templates/{id}', 'get'>;
export type TemplatePage = ResponseData<'/v1/templates', 'get'>;
export type SendSmsParams = RequestBody<'/v1/sms/send', 'post'>;
export type SmsSent = ResponseData<'/v1/sms/send', 'post'>;

export type Balance = ResponseData<'/v1/balance', 'get'>;
export type ListLedgerQuery = QueryParams<'/v1/ledger', 'get'>;
export type LedgerPage = ResponseData<'/v1/ledger', 'get'>;
export type LedgerEntry = LedgerPage['items'][number];
export type Prices = ResponseData<'/v1/prices', 'get'>;
export type Price = Prices['items'][number];
export type UsageReportQuery = QueryParams<'/v1/reports/usage', 'get'>;
export type UsageReport = ResponseData<'/v1/reports/usage', 'get'>;
