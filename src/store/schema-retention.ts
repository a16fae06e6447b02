/** Tables of 0007_retention (src/store/migrations/retention.ts). */

/**
 * What the retention purge deleted, summed per app, UTC day, country and
 * channel, so that usage reports still count it (src/store/reports.ts).
 * OTP counters are keyed by the OTP (its creation day, country and channel),
 * message counters by the message, as the reports group them.
 */
export interface ReportRollupTable {
  app_id: string;
  /** UTC day number: created_at ÷ 86 400 000. */
  day: number;
  /** ISO country; '' when unknown (null in reports). */
  country: string;
  channel: string;
  account_id: string;
  /** OTPs created (one per send request). */
  otps: number;
  /** Of those, how many had a message delivered. */
  otps_delivered: number;
  otps_verified: number;
  otps_failed: number;
  otps_expired: number;
  otps_canceled: number;
  otps_max_attempts: number;
  /** Messages created: sends, resends, fallbacks, template SMS. */
  messages: number;
  messages_delivered: number;
  messages_failed: number;
  /** Σ segments of those messages (null counts as 0). */
  segments: number;
}

export interface RetentionTables {
  report_rollups: ReportRollupTable;
}
