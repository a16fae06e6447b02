import type { Generated } from 'kysely';

/** Timestamps are integer milliseconds since the epoch in both dialects; money is integer micro-units. */
type Ms = number;

declare module './schema.js' {
  /** The per-account wallet column that 0005_wallet adds to `accounts`. */
  interface AccountTable {
    /** `balance.low` fires when the balance falls below this (micro-units); 0 = never. */
    low_balance_threshold: Generated<number>;
  }
}

/**
 * One movement of an account's money (see docs/wallet.md). `amount` changes
 * the balance (what the account can spend), `held_change` the funds held for
 * messages in flight. Per account: Σ amount = accounts.balance, and
 * Σ held_change = Σ charges.amount of charges still `held`.
 */
export interface LedgerEntryTable {
  /** `led_…`, time-ordered. */
  id: string;
  account_id: string;
  /** The app whose message caused it (hold, capture, release, refund); null for operator entries. */
  app_id: string | null;
  /** `topup | trial | adjustment | hold | capture | release | refund` */
  type: string;
  amount: number;
  held_change: number;
  /** The account's balance right after this entry. */
  balance_after: number;
  /** The operator's reference (top-up, adjustment), the message id (charges) or `trial`; unique per account and type. */
  reference: string;
  note: string | null;
  created_at: Ms;
}

/** What one live message holds: settled (captured or released) exactly once. */
export interface ChargeTable {
  message_id: string;
  account_id: string;
  app_id: string;
  channel: string;
  country: string | null;
  /** Segments for SMS, 1 for other channels. */
  units: number;
  unit_price: number;
  amount: number;
  /** `held | captured | released | refunded` */
  state: string;
  created_at: Ms;
  settled_at: Ms | null;
}

/** The operator's price per message (per segment for SMS), by currency, channel and country (`*`: any). */
export interface PriceTable {
  currency: string;
  channel: string;
  country: string;
  price: number;
  updated_at: Ms;
}

/** The operator's wallet settings: one row (`id` 1), shared by every process. */
export interface WalletSettingsTable {
  id: number;
  /** `delivered` or `sent`: the outcome that captures a hold. */
  capture_on: string;
  /** Seconds a sent message may wait for its receipt before `no_receipt` settles it. */
  capture_after: number;
  /** `capture` or `release`. */
  no_receipt: string;
  /** Free OTPs a new account gets, as credit at the default SMS price of its currency. */
  trial_otps: number;
  updated_at: Ms;
}

/** Tables of 0005_wallet (src/store/migrations/wallet.ts). */
export interface WalletTables {
  ledger_entries: LedgerEntryTable;
  charges: ChargeTable;
  prices: PriceTable;
  wallet_settings: WalletSettingsTable;
}
