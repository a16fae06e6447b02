import { recordActivity } from '../activity/log.js';
import type { Context } from '../context.js';
import { sweepExpired } from '../store/otps.js';

/**
 * Ends pending OTPs whose time ran out and wipes their codes. Reads already
 * report them expired; the sweep makes it durable and logs it. Guarded
 * updates make it safe to run on every process at once.
 */
export async function sweepExpiredOtps(ctx: Context, batch = 500): Promise<number> {
  const now = ctx.clock.now();
  return ctx.store.tx(async (trx) => {
    const ended = await sweepExpired(trx, now, batch);
    for (const row of ended) {
      await recordActivity(trx, now, {
        account_id: row.account_id,
        app_id: row.app_id,
        type: 'otp.expired',
        otp_id: row.id,
      });
    }
    return ended.length;
  });
}
