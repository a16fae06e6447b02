/**
 * @otpd/client: otpd's `/v1` API and webhook verification, on `fetch` and
 * Web Crypto (Node ≥ 20, Deno, Bun, edge runtimes, browsers). No dependencies.
 */
import { verifyWebhook } from './webhooks.js';

export { Otpd, type OtpdOptions } from './client.js';
export { OtpdError, OtpdNetworkError, WebhookVerificationError } from './errors.js';
export type { components, paths } from './generated/openapi.js';
export type { RequestOptions } from './http.js';
export type * from './types.js';
export {
  type BalanceLowData,
  verifyWebhook,
  type WebhookEvent,
  type WebhookEventType,
  type WebhookHeaders,
  type WebhookVerifyOptions,
} from './webhooks.js';

/** Webhook verification without a client (a receiver needs no API key): `await webhooks.verify(body, headers, secret)`. */
export const webhooks = { verify: verifyWebhook };

export const VERSION = '0.1.0';
