/** Tables of 0006_dashboard (src/store/migrations/dashboard.ts). Timestamps are integer ms. */
type Ms = number;

/** A person who logs in to the dashboard: a tenant admin (of one account) or an operator. */
export interface UserTable {
  /** `usr_…` */
  id: string;
  /** Lower-cased; unique. */
  email: string;
  /** `scrypt$<log2 N>$<r>$<p>$<salt>$<hash>` (base64url): the parameters travel with the hash. */
  password_hash: string;
  /** The account a tenant user manages; null for operators. */
  account_id: string | null;
  /** `tenant | operator` */
  role: string;
  email_verified_at: Ms | null;
  /** AES-GCM (src/core/crypto.ts) of the TOTP secret (base32), the user id as associated data. */
  totp_secret_ciphertext: string | null;
  /** A secret being set up: it becomes the secret once a code from it is confirmed. */
  totp_pending_ciphertext: string | null;
  totp_enabled_at: Ms | null;
  /** The last 30-second step a code was accepted for: a code is good once. */
  totp_last_step: number | null;
  created_at: Ms;
  updated_at: Ms;
}

/** One-time recovery codes of a user with two-factor login; only their SHA-256 is kept. */
export interface RecoveryCodeTable {
  id: string;
  user_id: string;
  hash: string;
  used_at: Ms | null;
  created_at: Ms;
}

export interface SessionTable {
  /** `ses_…` */
  id: string;
  /** SHA-256 hex of the cookie's token; the token itself is never stored. */
  token_hash: string;
  user_id: string;
  /** 0 while a user with two-factor login still owes the code: such a session can only complete it. */
  second_factor_done: number;
  created_at: Ms;
  last_seen_at: Ms;
  expires_at: Ms;
  ip: string | null;
  user_agent: string | null;
}

/** Single-use links sent by mail: email verification and password reset. */
export interface UserTokenTable {
  id: string;
  user_id: string;
  /** `verify_email | reset_password` */
  purpose: string;
  /** SHA-256 hex of the token in the link. */
  token_hash: string;
  expires_at: Ms;
  used_at: Ms | null;
  created_at: Ms;
}

/** Every mail otpd writes; without SMTP it stays here, readable on the inbox page. */
export interface MailTable {
  /** `mal_…` */
  id: string;
  to_address: string;
  subject: string;
  /** AES-GCM of the text body, the id as associated data; wiped once SMTP took it. */
  body_ciphertext: string | null;
  /** `local` (kept for the inbox page) or `smtp`. */
  transport: string;
  /** `local | queued | sent | failed` */
  status: string;
  error: string | null;
  created_at: Ms;
  sent_at: Ms | null;
}

/** A tenant asking to use live mode; an operator approves or rejects it. */
export interface LiveRequestTable {
  /** `lmr_…` */
  id: string;
  account_id: string;
  user_id: string;
  use_case: string;
  expected_volume: string;
  /** `pending | approved | rejected` */
  status: string;
  review_note: string | null;
  created_at: Ms;
  reviewed_at: Ms | null;
}

export interface DashboardTables {
  users: UserTable;
  user_recovery_codes: RecoveryCodeTable;
  dashboard_sessions: SessionTable;
  user_tokens: UserTokenTable;
  mail_outbox: MailTable;
  live_requests: LiveRequestTable;
}
