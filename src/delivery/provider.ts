import type { Logger } from 'pino';
import type { Channel, Environment } from '../core/policy.js';

/** One message as a provider sees it: the text is already rendered. */
export interface OutboundMessage {
  id: string;
  app_id: string;
  otp_id: string | null;
  environment: Environment;
  channel: Channel;
  /** E.164. */
  phone: string;
  sender_id: string | null;
  text: string;
  /**
   * The OTP's code, for providers that carry it apart from the text
   * (WhatsApp's authentication template, voice). Null for transactional SMS.
   */
  code: string | null;
  /** BCP 47 (`ne-NP`), or null for the provider's default. */
  locale: string | null;
}

export interface ProviderResult {
  /** The provider's own id, for receipts; null when it has none. */
  provider_message_id: string | null;
  /** `delivered` when the provider is the final destination (the inbox). */
  status: 'sent' | 'delivered';
  /** SMS parts the text took, when the provider knows (for billing). */
  segments?: number;
}

/**
 * How a send failed, which decides what the worker does next:
 * - `retry`: not accepted, and trying again later may work (throttled, link
 *   down, 5xx): the same provider again after a backoff, up to a bound.
 * - `permanent`: refused for good (bad number, bad credentials, 4xx): the
 *   next provider of the route at once.
 * - `unknown`: the request left and no answer came (timeout, connection lost
 *   after writing). The provider may have it, so it is never sent to the same
 *   provider again; a receipt settles it, or after `reconcile_after` the next
 *   provider of the route takes it.
 */
export type FailureKind = 'retry' | 'permanent' | 'unknown';

export class ProviderError extends Error {
  readonly kind: FailureKind;
  /** The provider's own error code (`ESME_RTHROTTLED`, `21211`, `131026`), when it gave one. */
  readonly code: string | undefined;
  constructor(message: string, kind: FailureKind, code?: string) {
    super(message);
    this.name = 'ProviderError';
    this.kind = kind;
    this.code = code;
  }
  /** Whether trying again later may succeed (throttling, timeouts, link down). */
  get retryable(): boolean {
    return this.kind === 'retry';
  }
}

/** What a provider learned about a message after `send` returned: a delivery receipt or status callback. */
export interface Receipt {
  /** The provider's name (its key in the configuration). */
  provider: string;
  /** The provider's id of the message, as `send` returned it. */
  provider_message_id?: string | null;
  /** Our message id, where the provider echoes it (callback URL, opaque data). */
  message_id?: string | null;
  /**
   * The recipient (E.164): settles a message whose submit answer was lost,
   * when neither id is known (SMPP receipts after a dropped link).
   */
  phone?: string | null;
  status: 'sent' | 'delivered' | 'failed';
  /** The provider's reason for a failure (`UNDELIV`, `30003`). */
  error?: string | null;
  /** When the provider says it happened (ms); now when absent. */
  at?: number | null;
}

export type ReceiptSink = (receipt: Receipt) => Promise<void>;

/** An inbound HTTP call to `/callbacks/{provider name}`, raw, for signature checks. */
export interface CallbackRequest {
  method: string;
  /**
   * The URL as the caller addressed it: the configured `public_url` + path +
   * query (Twilio signs exactly this).
   */
  url: string;
  query: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  ip: string;
}

export interface CallbackResponse {
  status: number;
  body?: string;
  /** Content type of `body`; text/plain when absent. */
  type?: string;
}

/** What the delivery layer gives a provider when it builds one. */
export interface ProviderDeps {
  /** Where receipts go: they settle the message's status. */
  receipts: ReceiptSink;
  log: Logger;
  /**
   * The public URL of this provider's callback endpoint
   * (`<public_url>/callbacks/<name>`), or null when `public_url` is not set.
   */
  callbackUrl: string | null;
  now(): number;
  /**
   * A token only this otpd can make, to put in callback URLs it hands the
   * provider (`?message_id=…&token=…`) and check when they come back.
   */
  sign(value: string): string;
  /** Checks a token made by `sign` (constant time). */
  verify(value: string, token: string): boolean;
}

/**
 * A delivery provider. `send` resolves once the provider has accepted the
 * message and throws a ProviderError otherwise. Providers are built from the
 * delivery configuration (see `registry.ts`).
 */
export interface Provider {
  /** The name in the configuration (`smsc`, `twilio`); `inbox` for the built-in one. */
  readonly name: string;
  readonly type: string;
  readonly channels: readonly Channel[];
  /**
   * True when the provider reports every message it accepted, promptly
   * (status callbacks for `queued`/`sent`). Then silence for
   * `reconcile_after` after an unknown outcome means it never got the
   * message, and it may be sent there again; and a message still not
   * delivered after the app's `fallback_after` hands over to the next
   * channel. The `resend_after_silence` setting overrides it.
   */
  readonly receipts?: boolean;
  /** Sending the same message id twice delivers it once (the inbox): a crash never leaves its messages in doubt. */
  readonly idempotent?: boolean;
  /** Requests this provider may have in flight at once (the SMPP window); unlimited when absent. */
  readonly concurrency?: number;
  /** Resolves when the next message may leave (the `throughput` setting); the worker marks the message just after. */
  ready?(): Promise<void>;
  send(message: OutboundMessage): Promise<ProviderResult>;
  /** Opens connections (an SMPP bind). Never throws for a peer that is down: it reconnects by itself. */
  start?(): Promise<void>;
  /** Closes connections; messages in flight get their answer or an `unknown` failure. */
  close?(): Promise<void>;
  /** Answers `/callbacks/<name>`: receipts and status callbacks, after checking their signature. */
  handleCallback?(request: CallbackRequest): Promise<CallbackResponse>;
  /** Whether the provider can take messages now (bound, credentials accepted). */
  health?(): { ok: boolean; detail?: string };
}
