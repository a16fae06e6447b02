/** Tables of 0004_webhooks (src/store/migrations/webhooks.ts). Timestamps are integer ms. */

export interface WebhookEndpointTable {
  /** `whk_…` */
  id: string;
  account_id: string;
  app_id: string;
  url: string;
  /** JSON array of event types, or null for every event. */
  events: string | null;
  enabled: number;
  /** AES-GCM (src/core/crypto.ts) of the `whsec_…` secret, the endpoint id as associated data. */
  secret_ciphertext: string;
  /** The secret before the last rotation: it signs too until `previous_secret_expires_at`. */
  previous_secret_ciphertext: string | null;
  previous_secret_expires_at: number | null;
  /** Why otpd disabled the endpoint (a 410 Gone); null when enabled or disabled by hand. */
  disabled_reason: string | null;
  created_at: number;
  updated_at: number;
}

/** One event for one app: the body every endpoint of the app gets, byte for byte. */
export interface WebhookEventTable {
  /** `evt_…`: the `webhook-id`, the same across retries and endpoints. */
  id: string;
  account_id: string;
  app_id: string;
  type: string;
  /** The JSON body as signed and sent. */
  payload: string;
  created_at: number;
}

/** The outbox: one row per (event, endpoint). */
export interface WebhookDeliveryTable {
  /** `whd_…` */
  id: string;
  event_id: string;
  endpoint_id: string;
  app_id: string;
  /** `pending` → `sending` → `succeeded` | `failed` | `canceled` (endpoint disabled or deleted). */
  status: string;
  /** Attempts in the current schedule (a replay starts it again). */
  attempts: number;
  /** Claims ever made: the token that outcome writes name, so a stale claim cannot overwrite a newer one. */
  tries: number;
  /** When a pending delivery is due, or when a claimed one's lease runs out. */
  next_try_at: number;
  last_status_code: number | null;
  last_error: string | null;
  created_at: number;
  updated_at: number;
  succeeded_at: number | null;
}

/** One HTTP attempt of a delivery. */
export interface WebhookAttemptTable {
  /** `wha_…` */
  id: string;
  delivery_id: string;
  endpoint_id: string;
  /** 1 for the first attempt of the delivery's schedule. */
  attempt: number;
  /** The receiver's HTTP status; null when no answer came (refused, timed out, blocked). */
  status_code: number | null;
  latency_ms: number;
  error: string | null;
  created_at: number;
}

export interface WebhooksTables {
  webhook_endpoints: WebhookEndpointTable;
  webhook_events: WebhookEventTable;
  webhook_deliveries: WebhookDeliveryTable;
  webhook_attempts: WebhookAttemptTable;
}
