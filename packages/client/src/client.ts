import { type RequestOptions, Transport } from './http.js';
import type {
  ActivityEntry,
  ActivityPage,
  Balance,
  CreateTemplateParams,
  LedgerEntry,
  LedgerPage,
  ListLedgerQuery,
  ListLogsQuery,
  ListOtpsQuery,
  ListTemplatesQuery,
  Message,
  Otp,
  OtpAttempts,
  OtpDetail,
  OtpPage,
  Prices,
  RateLimits,
  RateLimitsQuery,
  ResendOtpParams,
  SendOtpParams,
  SendSmsParams,
  SmsSent,
  Template,
  TemplatePage,
  UsageReport,
  UsageReportQuery,
  VerifiedOtp,
  VerifyOtpParams,
} from './types.js';
import {
  verifyWebhook,
  type WebhookEvent,
  type WebhookHeaders,
  type WebhookVerifyOptions,
} from './webhooks.js';

export interface OtpdOptions {
  /** The app's secret key: `otpd_test_…` (sandbox) or `otpd_live_…`. Keep it on your server. */
  apiKey: string;
  /** Where otpd listens (default `http://localhost:3000`). */
  baseUrl?: string;
  /** A `fetch` to use instead of the global one (a proxy agent, a test double). */
  fetch?: typeof fetch;
  /** How long one attempt may take, answer body included (default 30 000 ms). */
  timeoutMs?: number;
  /** Retries after a network failure, a timeout, a 5xx or a 409 IDEMPOTENCY_CONFLICT (default 2). */
  maxRetries?: number;
  /**
   * Also retry `429 RATE_LIMIT_EXCEEDED`, after its `retry_after`, when that
   * is at most `maxRetryAfterSeconds` (default false: a 429 is thrown at once).
   */
  retryRateLimited?: boolean;
  /** The longest `retry_after` a 429 retry waits for (default 60 s). */
  maxRetryAfterSeconds?: number;
  /** The endpoint's `whsec_…` secret (or the two of a rotation), for `webhooks.verify(body, headers)`. */
  webhookSecret?: string | readonly string[];
}

type Page<T> = { items: T[]; next_cursor: string | null };

/** Every item of a cursor-paginated list, page after page. */
async function* everyItem<T, Q extends { cursor?: string }>(
  list: (query: Q) => Promise<Page<T>>,
  query: Q,
): AsyncGenerator<T> {
  let cursor = query.cursor;
  do {
    const page = await list({ ...query, cursor });
    yield* page.items;
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
}

const segment = (id: string) => encodeURIComponent(id);

/**
 * otpd's `/v1` API. Every method answers the `data` of the envelope, and
 * throws `OtpdError` (an API error, with its `code` and extras) or
 * `OtpdNetworkError` (no answer, after the retries).
 *
 * ```ts
 * const otpd = new Otpd({ apiKey: process.env.OTPD_API_KEY!, baseUrl: 'https://otp.example.com' });
 * const { otp_id } = await otpd.otp.send({ phone: '+9779841234567' });
 * await otpd.otp.verify({ otp_id, code: '123456' });
 * ```
 */
export class Otpd {
  private readonly http: Transport;
  private readonly webhookSecret: string | readonly string[] | undefined;

  constructor(options: OtpdOptions) {
    if (!options?.apiKey)
      throw new TypeError('new Otpd({ apiKey }) needs the API key (otpd_test_… or otpd_live_…).');
    this.webhookSecret = options.webhookSecret;
    this.http = new Transport({
      apiKey: options.apiKey,
      baseUrl: (options.baseUrl ?? 'http://localhost:3000').replace(/\/+$/, ''),
      fetch: options.fetch ?? ((input, init) => globalThis.fetch(input, init)),
      timeoutMs: options.timeoutMs ?? 30_000,
      maxRetries: options.maxRetries ?? 2,
      retryRateLimited: options.retryRateLimited ?? false,
      maxRetryAfterSeconds: options.maxRetryAfterSeconds ?? 60,
    });
  }

  /** One-time codes: send, verify, resend, cancel, read. */
  readonly otp = {
    /** Generates a code and sends it (201). Sandbox apps: the code is `123456` and lands in the inbox. */
    send: (params: SendOtpParams, options?: RequestOptions) =>
      this.http.request<Otp>('POST', '/v1/otp/send', { body: params }, options),
    /**
     * Checks a code, by `otp_id` or by `phone`. A wrong code throws
     * `OtpdError` `INVALID_OTP` with `attempts_remaining`.
     */
    verify: (params: VerifyOtpParams, options?: RequestOptions) =>
      this.http.request<VerifiedOtp>('POST', '/v1/otp/verify', { body: params }, options),
    /** Sends the same code again after the cooldown, optionally on another channel. */
    resend: (params: ResendOtpParams, options?: RequestOptions) =>
      this.http.request<Otp>('POST', '/v1/otp/resend', { body: params }, options),
    cancel: (otpId: string, options?: RequestOptions) =>
      this.http.request<Otp>('POST', `/v1/otp/${segment(otpId)}/cancel`, {}, options),
    /** The OTP's record with each of its deliveries (never the code). */
    get: (otpId: string, options?: RequestOptions) =>
      this.http.request<OtpDetail>('GET', `/v1/otp/${segment(otpId)}`, {}, options),
    /** One page, newest first; pass `next_cursor` as `cursor` for the next. */
    list: (query: ListOtpsQuery = {}, options?: RequestOptions) =>
      this.http.request<OtpPage>('GET', '/v1/otp', { query }, options),
    /** Every OTP that matches, across pages: `for await (const otp of otpd.otp.iterate({ status: 'failed' }))`. */
    iterate: (query: ListOtpsQuery = {}, options?: RequestOptions): AsyncGenerator<Otp> =>
      everyItem((q) => this.otp.list(q, options), query),
    attempts: (otpId: string, options?: RequestOptions) =>
      this.http.request<OtpAttempts>('GET', `/v1/otp/${segment(otpId)}/attempts`, {}, options),
  };

  readonly messages = {
    /** A message's delivery: provider, status, error and timings (never its text). */
    get: (messageId: string, options?: RequestOptions) =>
      this.http.request<Message>('GET', `/v1/messages/${segment(messageId)}`, {}, options),
  };

  readonly logs = {
    /** The app's activity log, newest first. */
    list: (query: ListLogsQuery = {}, options?: RequestOptions) =>
      this.http.request<ActivityPage>('GET', '/v1/logs', { query }, options),
    iterate: (query: ListLogsQuery = {}, options?: RequestOptions): AsyncGenerator<ActivityEntry> =>
      everyItem((q) => this.logs.list(q, options), query),
  };

  readonly rateLimits = {
    /** Each limit with what remains and when it resets; for a phone (and an IP) when given. */
    get: (query: RateLimitsQuery = {}, options?: RequestOptions) =>
      this.http.request<RateLimits>('GET', '/v1/rate-limits', { query }, options),
  };

  /** Transactional SMS templates (reviewed by the operator before they can be sent). */
  readonly templates = {
    create: (params: CreateTemplateParams, options?: RequestOptions) =>
      this.http.request<Template>('POST', '/v1/templates', { body: params }, options),
    list: (query: ListTemplatesQuery = {}, options?: RequestOptions) =>
      this.http.request<TemplatePage>('GET', '/v1/templates', { query }, options),
    iterate: (query: ListTemplatesQuery = {}, options?: RequestOptions): AsyncGenerator<Template> =>
      everyItem((q) => this.templates.list(q, options), query),
    get: (templateId: string, options?: RequestOptions) =>
      this.http.request<Template>('GET', `/v1/templates/${segment(templateId)}`, {}, options),
    /** Deletes it (status `deleted`); repeating answers the same. */
    delete: (templateId: string, options?: RequestOptions) =>
      this.http.request<Template>('DELETE', `/v1/templates/${segment(templateId)}`, {}, options),
  };

  readonly sms = {
    /** Sends an approved template with its variables; follow it with `messages.get(message_id)`. */
    send: (params: SendSmsParams, options?: RequestOptions) =>
      this.http.request<SmsSent>('POST', '/v1/sms/send', { body: params }, options),
  };

  readonly balance = {
    /** The account's balance, held funds and low-balance threshold, in micro-units. */
    get: (options?: RequestOptions) => this.http.request<Balance>('GET', '/v1/balance', {}, options),
  };

  readonly ledger = {
    /** Every movement of the account's money, newest first. */
    list: (query: ListLedgerQuery = {}, options?: RequestOptions) =>
      this.http.request<LedgerPage>('GET', '/v1/ledger', { query }, options),
    iterate: (query: ListLedgerQuery = {}, options?: RequestOptions): AsyncGenerator<LedgerEntry> =>
      everyItem((q) => this.ledger.list(q, options), query),
  };

  readonly prices = {
    /** What messages cost, per channel and country, in the account's currency. */
    list: (options?: RequestOptions) => this.http.request<Prices>('GET', '/v1/prices', {}, options),
  };

  readonly reports = {
    /** Sent, delivered, failed, verified, conversion and cost, grouped by day, country or channel. */
    usage: (query: UsageReportQuery = {}, options?: RequestOptions) =>
      this.http.request<UsageReport>('GET', '/v1/reports/usage', { query }, options),
  };

  readonly webhooks = {
    /**
     * Checks a webhook request and answers its event (see `verifyWebhook`);
     * `secret` defaults to the client's `webhookSecret`.
     */
    verify: (
      body: string | Uint8Array | ArrayBuffer,
      headers: WebhookHeaders,
      secret: string | readonly string[] | undefined = this.webhookSecret,
      options?: WebhookVerifyOptions,
    ): Promise<WebhookEvent> => {
      if (secret === undefined) {
        return Promise.reject(
          new TypeError(
            'webhooks.verify needs the endpoint secret: pass it, or give `webhookSecret` to new Otpd().',
          ),
        );
      }
      return verifyWebhook(body, headers, secret, options);
    },
  };
}
