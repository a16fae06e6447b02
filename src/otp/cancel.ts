import { recordActivity } from '../activity/log.js';
import type { Context } from '../context.js';
import { OtpdError } from '../core/errors.js';
import { endOtp, findOtp } from '../store/otps.js';
import type { Tenant } from '../tenancy/keys.js';
import { effectiveStatus, type OtpRecord, toRecord } from './record.js';
import { refuseEnded } from './verify.js';

/** Cancels a pending OTP; cancelling a canceled one answers its record again. */
export async function cancelOtp(ctx: Context, tenant: Tenant, otpId: string): Promise<OtpRecord> {
  const found = await findOtp(ctx.store.db, tenant.app.id, otpId);
  if (!found) throw new OtpdError('OTP_NOT_FOUND');
  const now = ctx.clock.now();
  const status = effectiveStatus(found, now);
  if (status === 'canceled') return toRecord(found, now);
  if (status !== 'pending') throw await refuseEnded(ctx, found, now);
  const canceled = await ctx.store.tx(async (trx) => {
    const row = await endOtp(trx, otpId, 'canceled', now);
    if (row) {
      await recordActivity(trx, now, {
        account_id: row.account_id,
        app_id: row.app_id,
        type: 'otp.canceled',
        otp_id: row.id,
        key_id: tenant.key_id,
      });
    }
    return row;
  });
  if (canceled) return toRecord(canceled, now);
  // It ended in between (verified, say): answer as for any ended OTP.
  throw await refuseEnded(ctx, (await findOtp(ctx.store.db, tenant.app.id, otpId))!, now);
}
