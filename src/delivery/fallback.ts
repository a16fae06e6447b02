import { recordActivity } from '../activity/log.js';
import type { Context } from '../context.js';
import { decrypt } from '../core/crypto.js';
import { OtpdError } from '../core/errors.js';
import { renderOtpMessage } from '../core/message.js';
import { canReceiveText, parsePhone } from '../core/phone.js';
import type { Channel, Environment } from '../core/policy.js';
import type { Db } from '../store/db.js';
import { hasLiveMessage, type MessageRow } from '../store/messages.js';
import { endOtp, findPendingById } from '../store/otps.js';
import { findApp } from '../store/tenancy.js';
import { toApp } from '../tenancy/apps.js';
import { queueMessage } from './outbox.js';

/**
 * Channel fallback: queues the OTP's code on the next channel of the app's
 * `fallback_channels` after `row` failed or stayed undelivered. Answers
 * whether a message was queued. Runs in the caller's transaction.
 */
export async function queueFallback(ctx: Context, db: Db, row: MessageRow, now: number): Promise<boolean> {
  if (row.kind !== 'otp' || !row.otp_id) return false;
  const otp = await findPendingById(db, row.otp_id, now);
  if (!otp?.code_ciphertext) return false;
  const appRow = await findApp(db, row.app_id);
  if (!appRow) return false;
  const app = toApp(appRow);
  const next = app.fallback_channels[row.step] as Channel | undefined;
  if (!next || !app.channels.includes(next)) return false;
  if (next !== 'voice' && !canReceiveText(parsePhone(row.phone))) return false;
  // Once per step (a late failure after a timed fallback must not hand over
  // again), and not at all once something of the OTP was delivered.
  const taken = await db
    .selectFrom('messages')
    .select('id')
    .where('otp_id', '=', otp.id)
    .where((eb) => eb.or([eb('step', '=', row.step + 1), eb('status', '=', 'delivered')]))
    .executeTakeFirst();
  if (taken) return false;
  const code = decrypt(ctx.keyring, otp.code_ciphertext, otp.id);
  const minutes = Math.max(1, Math.ceil((otp.expires_at - now) / 60_000));
  let id: string;
  try {
    id = await queueMessage(db, ctx.keyring, now, {
      account_id: row.account_id,
      app_id: row.app_id,
      otp_id: otp.id,
      environment: row.environment as Environment,
      channel: next,
      phone: row.phone,
      country: row.country,
      sender_id: otp.sender_id,
      locale: otp.locale,
      text: renderOtpMessage(otp.message, { code, minutes, app: app.name }),
      code,
      step: row.step + 1,
    });
  } catch (error) {
    // The balance does not cover the next channel: no fallback, as if there were none.
    // The hold refused before writing anything, so the transaction goes on intact.
    if (error instanceof OtpdError && error.code === 'INSUFFICIENT_BALANCE') {
      ctx.log.info({ message_id: row.id, to: next }, 'no channel fallback: the balance does not cover it');
      return false;
    }
    throw error;
  }
  await recordActivity(db, now, {
    account_id: row.account_id,
    app_id: row.app_id,
    type: 'message.fallback',
    otp_id: otp.id,
    detail: { from_message_id: row.id, from: row.channel, to: next, message_id: id },
  });
  return true;
}

/**
 * After a message failed for good: the next channel takes over, or, when
 * nothing else of the OTP can still reach the user, the OTP ends `failed`.
 */
export async function afterFailure(ctx: Context, db: Db, row: MessageRow, now: number): Promise<void> {
  if (await queueFallback(ctx, db, row, now)) return;
  if (!row.otp_id) return;
  // On PostgreSQL a resend committing now must either be seen below or see the OTP failed.
  if (ctx.store.rowLocks) {
    await db.selectFrom('otps').select('id').where('id', '=', row.otp_id).forUpdate().executeTakeFirst();
  }
  if (await hasLiveMessage(db, row.otp_id, row.id)) return;
  const ended = await endOtp(db, row.otp_id, 'failed', now);
  if (ended) {
    await recordActivity(db, now, {
      account_id: ended.account_id,
      app_id: ended.app_id,
      type: 'otp.failed',
      otp_id: ended.id,
      detail: { message_id: row.id, error: row.error },
    });
  }
}
