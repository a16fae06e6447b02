import type { DashboardTables } from './schema-dashboard.js';
import type { RetentionTables } from './schema-retention.js';
import type { TemplatesTables } from './schema-templates.js';
import type { WalletTables } from './schema-wallet.js';
import type { WebhooksTables } from './schema-webhooks.js';

/** Timestamps are integer milliseconds since the epoch in both dialects. */
type Ms = number;

export interface MetaTable {
  key: string;
  value: string;
}

export interface AccountTable {
  id: string;
  name: string;
  email: string | null;
  /** Integer micro-units of `currency`. */
  balance: number;
  currency: string;
  created_at: Ms;
}

export interface AppTable {
  id: string;
  account_id: string;
  name: string;
  environment: string;
  code_type: string;
  code_length: number;
  expiry: number;
  max_attempts: number;
  resend_cooldown: number;
  /** JSON array. */
  channels: string;
  default_channel: string;
  default_country: string | null;
  sender_id: string | null;
  message: string;
  /** JSON array or null. */
  allowed_countries: string | null;
  allow_custom_code: number;
  /** JSON object of limit overrides. */
  limits: string;
  /** JSON array: channels tried after the send's own, in order. */
  fallback_channels: string;
  /** Seconds a sent message may stay undelivered before the next channel is tried; 0 = on failure only. */
  fallback_after: number;
  /** JSON array or null: the channel of the n-th send of one OTP. */
  send_channels: string | null;
  created_at: Ms;
  updated_at: Ms;
}

export interface ApiKeyTable {
  id: string;
  app_id: string;
  account_id: string;
  environment: string;
  /** What the dashboard shows: `otpd_test_AbCd`. */
  prefix: string;
  last4: string;
  /** SHA-256 hex of the whole secret; the secret itself is never stored. */
  hash: string;
  created_at: Ms;
  last_used_at: Ms | null;
  revoked_at: Ms | null;
}

export interface OtpTable {
  id: string;
  account_id: string;
  app_id: string;
  environment: string;
  phone: string;
  country: string | null;
  channel: string;
  status: string;
  code_type: string;
  code_length: number;
  code_hmac: string;
  /** AES-GCM copy for resends; null once the OTP is terminal. */
  code_ciphertext: string | null;
  /** The message template (never the rendered text). */
  message: string;
  sender_id: string | null;
  locale: string | null;
  attempts: number;
  max_attempts: number;
  resend_cooldown: number;
  send_count: number;
  last_sent_at: Ms;
  expires_at: Ms;
  reference: string | null;
  /** JSON object or null. */
  metadata: string | null;
  ip: string | null;
  created_at: Ms;
  updated_at: Ms;
  verified_at: Ms | null;
  ended_at: Ms | null;
}

export interface OtpAttemptTable {
  id: string;
  otp_id: string;
  app_id: string;
  outcome: string;
  created_at: Ms;
}

export interface MessageTable {
  id: string;
  account_id: string;
  app_id: string;
  otp_id: string | null;
  environment: string;
  channel: string;
  phone: string;
  sender_id: string | null;
  provider: string | null;
  provider_message_id: string | null;
  status: string;
  error: string | null;
  tries: number;
  /** When a queued message is due, or when a claimed one's lease runs out. */
  next_try_at: Ms;
  /** AES-GCM copy of the text; null once the message is terminal. */
  text_ciphertext: string | null;
  created_at: Ms;
  updated_at: Ms;
  sent_at: Ms | null;
  /** `otp` or `sms` (a transactional template message). */
  kind: string;
  country: string | null;
  locale: string | null;
  /** Position in the app's channel fallback chain: 0 is the send's own channel. */
  step: number;
  /** Position in the route's provider list. */
  provider_index: number;
  /** Tries on the current provider (reset when it falls over to the next). */
  provider_tries: number;
  segments: number | null;
  /** Set before the request to `provider` leaves: after a crash, the outcome is unknown. */
  submitted_at: Ms | null;
  delivered_at: Ms | null;
  failed_at: Ms | null;
  /** When a sent but undelivered message hands over to the next channel. */
  fallback_at: Ms | null;
}

export interface InboxMessageTable {
  id: string;
  message_id: string;
  app_id: string;
  environment: string;
  phone: string;
  channel: string;
  sender_id: string | null;
  text_ciphertext: string;
  created_at: Ms;
}

export interface RateLimitTable {
  key: string;
  count: number;
  reset_at: Ms;
}

export interface IdempotencyKeyTable {
  /** `<app id>:<key>` or `admin:<key>`. */
  scope_key: string;
  request_hash: string;
  /** `in_flight` or `done`. */
  state: string;
  response_status: number | null;
  response_body: string | null;
  locked_until: Ms;
  expires_at: Ms;
}

export interface ActivityTable {
  id: string;
  account_id: string;
  app_id: string | null;
  type: string;
  otp_id: string | null;
  key_id: string | null;
  /** JSON object. */
  detail: string;
  created_at: Ms;
}

export interface Database
  extends TemplatesTables,
    WebhooksTables,
    WalletTables,
    DashboardTables,
    RetentionTables {
  meta: MetaTable;
  accounts: AccountTable;
  apps: AppTable;
  api_keys: ApiKeyTable;
  otps: OtpTable;
  otp_attempts: OtpAttemptTable;
  messages: MessageTable;
  inbox_messages: InboxMessageTable;
  rate_limits: RateLimitTable;
  idempotency_keys: IdempotencyKeyTable;
  activity_log: ActivityTable;
}
