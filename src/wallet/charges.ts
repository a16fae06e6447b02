import type { Context } from '../context.js';
import type { Db } from '../store/db.js';
import type { MessageRow } from '../store/messages.js';

/**
 * A message's outcome settles its hold: captured or released per the
 * operator's setting. Runs in the transaction that records the outcome.
 */
export async function settleCharge(
  _ctx: Context,
  _db: Db,
  _message: MessageRow,
  _outcome: 'sent' | 'delivered' | 'failed',
  _now: number,
): Promise<void> {}
