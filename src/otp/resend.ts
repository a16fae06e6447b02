import { recordActivity } from '../activity/log.js';
import type { Context } from '../context.js';
import { decrypt } from '../core/crypto.js';
import { OtpdError } from '../core/errors.js';
import { renderOtpMessage } from '../core/message.js';
import { parsePhone } from '../core/phone.js';
import { type Channel, channelForSend, effectiveLimits } from '../core/policy.js';
import { queueMessage } from '../delivery/outbox.js';
import { takeSendLimits } from '../limits/limits.js';
import { findOtp, recordResend } from '../store/otps.js';
import type { Tenant } from '../tenancy/keys.js';
import { otpMetrics } from './metrics.js';
import { effectiveStatus, endedError, type OtpRecord, toRecord } from './record.js';
import { checkChannel } from './send.js';
import { refuseEnded } from './verify.js';

/**
 * Sends the same code again, after the cooldown, optionally on another
 * channel. The expiry and the failed-attempt count stay as they were.
 */
export async function resendOtp(
  ctx: Context,
  tenant: Tenant,
  input: { otp_id: string; channel?: Channel; ip?: string },
): Promise<OtpRecord> {
  const { app } = tenant;
  const found = await findOtp(ctx.store.db, app.id, input.otp_id);
  if (!found) throw new OtpdError('OTP_NOT_FOUND', undefined, { field: 'otp_id' });
  const now = ctx.clock.now();
  if (effectiveStatus(found, now) !== 'pending') throw await refuseEnded(ctx, found, now);
  // The app may pick the channel by the send's number (voice for the third).
  const channel =
    input.channel ??
    (app.send_channels ? channelForSend(app, found.send_count + 1) : (found.channel as Channel));
  checkChannel(app, channel, parsePhone(found.phone));

  const updated = await ctx.store.tx(async (trx) => {
    const row = await recordResend(trx, found.id, channel, now);
    if (!row) {
      const current = (await findOtp(trx, app.id, found.id))!;
      if (effectiveStatus(current, now) !== 'pending') throw endedError(current, now);
      const readyAt = current.last_sent_at + current.resend_cooldown * 1000;
      throw new OtpdError('RATE_LIMIT_EXCEEDED', 'The resend cooldown has not passed yet.', {
        scope: 'resend_cooldown',
        retry_after: Math.max(1, Math.ceil((readyAt - now) / 1000)),
        otp_id: current.id,
        resend_available_at: new Date(readyAt).toISOString(),
      });
    }
    await takeSendLimits(
      trx,
      effectiveLimits(app),
      { app_id: app.id, key_id: tenant.key_id, phone: row.phone, ip: input.ip ?? row.ip },
      now,
    );
    const code = decrypt(ctx.keyring, row.code_ciphertext!, row.id);
    const minutes = Math.max(1, Math.ceil((row.expires_at - now) / 60_000));
    await queueMessage(trx, ctx.keyring, now, {
      account_id: row.account_id,
      app_id: row.app_id,
      otp_id: row.id,
      environment: app.environment,
      channel,
      phone: row.phone,
      country: row.country,
      sender_id: row.sender_id,
      locale: row.locale,
      text: renderOtpMessage(row.message, { code, minutes, app: app.name }),
      code,
    });
    await recordActivity(trx, now, {
      account_id: row.account_id,
      app_id: row.app_id,
      type: 'otp.resent',
      otp_id: row.id,
      key_id: tenant.key_id,
      detail: { channel, send_count: row.send_count },
    });
    return row;
  });
  ctx.wakeDelivery();
  otpMetrics.sent.inc({ channel, environment: app.environment, kind: 'resend' });
  return toRecord(updated, now);
}
