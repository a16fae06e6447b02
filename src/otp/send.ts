import { recordActivity } from '../activity/log.js';
import type { Context } from '../context.js';
import { CODE_SPECS, type CodeType, generateCode, isWellFormedCode, sandboxCode } from '../core/codes.js';
import { encrypt, hashCode } from '../core/crypto.js';
import { invalid, OtpdError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import { checkOtpTemplate, renderOtpMessage } from '../core/message.js';
import { canReceiveText, type Phone, parsePhone } from '../core/phone.js';
import { type Channel, channelForSend, effectiveLimits } from '../core/policy.js';
import { queueMessage } from '../delivery/outbox.js';
import { takeSendLimits } from '../limits/limits.js';
import { expireDuePending, findPendingOtp, insertOtpIfNoPending, type OtpRow } from '../store/otps.js';
import type { App } from '../tenancy/apps.js';
import type { Tenant } from '../tenancy/keys.js';
import { otpMetrics } from './metrics.js';
import { type OtpRecord, toRecord } from './record.js';

export interface SendInput {
  phone: string;
  channel?: Channel;
  reference?: string;
  metadata?: Record<string, unknown>;
  code_type?: CodeType;
  code_length?: number;
  expiry?: number;
  max_attempts?: number;
  message?: string;
  sender_id?: string;
  locale?: string;
  ip?: string;
  /** A caller-chosen code; only where the app has allow_custom_code. */
  code?: string;
}

export const METADATA_MAX_BYTES = 4096;

/** The channel a message may go on, for this app and this number. */
export function checkChannel(app: App, channel: Channel, phone: Phone): void {
  if (!app.channels.includes(channel)) {
    throw new OtpdError('UNSUPPORTED_CHANNEL', `Channel ${channel} is not enabled for this app.`, {
      field: 'channel',
    });
  }
  if (channel !== 'voice' && !canReceiveText(phone)) {
    throw new OtpdError(
      'UNSUPPORTED_CHANNEL',
      `${phone.e164} is not a mobile number and cannot receive ${channel}; use the voice channel.`,
      { field: 'phone' },
    );
  }
}

/** Reads a phone number and applies the app's country rules. */
export function resolvePhone(app: App, input: string): Phone {
  const phone = parsePhone(input, app.default_country ?? undefined);
  if (app.allowed_countries && !app.allowed_countries.includes(phone.country ?? '')) {
    throw new OtpdError(
      'COUNTRY_NOT_ALLOWED',
      `This app may not send to ${phone.country ?? 'this number'}.`,
      {
        field: 'phone',
      },
    );
  }
  return phone;
}

function chooseCode(app: App, input: SendInput): { code: string; type: CodeType; length: number } {
  if (input.code !== undefined) {
    if (!app.allow_custom_code) {
      throw invalid('code', 'This app does not accept caller-supplied codes (allow_custom_code is off).');
    }
    const code = input.code.toUpperCase();
    const type: CodeType = /^\d+$/.test(code)
      ? 'numeric'
      : /^[A-Z]+$/.test(code)
        ? 'alphabetic'
        : 'alphanumeric';
    const spec = CODE_SPECS[type];
    if (code.length < spec.min || code.length > spec.max || !isWellFormedCode(type, code.length, code)) {
      throw invalid('code', `A ${type} code must be ${spec.min}–${spec.max} characters of ${spec.alphabet}.`);
    }
    // Sandbox keeps its promise of a fixed code, also for a caller-chosen one.
    const fixed = app.environment === 'sandbox' ? sandboxCode(type, code.length) : code;
    return { code: fixed, type, length: code.length };
  }
  const type = input.code_type ?? app.code_type;
  const spec = CODE_SPECS[type];
  const length =
    input.code_length ??
    (input.code_type && input.code_type !== app.code_type ? spec.default : app.code_length);
  if (length < spec.min || length > spec.max) {
    throw invalid('code_length', `code_length must be ${spec.min}–${spec.max} for ${type} codes.`);
  }
  const code = app.environment === 'sandbox' ? sandboxCode(type, length) : generateCode(type, length);
  return { code, type, length };
}

function checkMetadata(metadata: Record<string, unknown> | undefined): string | null {
  if (metadata === undefined) return null;
  const json = JSON.stringify(metadata);
  if (Buffer.byteLength(json) > METADATA_MAX_BYTES) {
    throw invalid('metadata', `metadata must be at most ${METADATA_MAX_BYTES} bytes as JSON.`);
  }
  return json;
}

/**
 * Creates an OTP and queues its message, in one transaction: the OTP, its
 * message, the limit counters and the log entry exist together or not at all.
 */
export async function sendOtp(ctx: Context, tenant: Tenant, input: SendInput): Promise<OtpRecord> {
  const { app } = tenant;
  const channel = input.channel ?? channelForSend(app, 1);
  const phone = resolvePhone(app, input.phone);
  checkChannel(app, channel, phone);
  const { code, type, length } = chooseCode(app, input);
  const template = input.message ?? app.message;
  if (input.message !== undefined) checkOtpTemplate(input.message);
  const metadata = checkMetadata(input.metadata);
  const expiry = input.expiry ?? app.expiry;

  const now = ctx.clock.now();
  const id = newId('otp', now);
  const row: OtpRow = {
    id,
    account_id: tenant.account_id,
    app_id: app.id,
    environment: app.environment,
    phone: phone.e164,
    country: phone.country ?? null,
    channel,
    status: 'pending',
    code_type: type,
    code_length: length,
    code_hmac: hashCode(ctx.keyring, id, code),
    code_ciphertext: encrypt(ctx.keyring, code, id),
    message: template,
    sender_id: input.sender_id ?? app.sender_id,
    locale: input.locale ?? null,
    attempts: 0,
    max_attempts: input.max_attempts ?? app.max_attempts,
    resend_cooldown: app.resend_cooldown,
    send_count: 1,
    last_sent_at: now,
    expires_at: now + expiry * 1000,
    reference: input.reference ?? null,
    metadata,
    ip: input.ip ?? null,
    created_at: now,
    updated_at: now,
    verified_at: null,
    ended_at: null,
  };
  const text = renderOtpMessage(template, { code, minutes: Math.ceil(expiry / 60), app: app.name });

  await ctx.store.tx(async (trx) => {
    while (!(await insertOtpIfNoPending(trx, row))) {
      // The phone's pending OTP may be one whose time ran out: it ends now, and
      // the insert is tried again (the common case, no pending OTP, costs one statement).
      const expired = await expireDuePending(trx, app.id, phone.e164, now);
      for (const e of expired) {
        await recordActivity(trx, now, {
          account_id: e.account_id,
          app_id: e.app_id,
          type: 'otp.expired',
          otp_id: e.id,
        });
      }
      if (expired.length > 0) continue;
      const active = await findPendingOtp(trx, app.id, phone.e164);
      // The one we collided with may have ended in between: then try again.
      if (active) {
        const record = toRecord(active, now);
        throw new OtpdError('ACTIVE_OTP_EXISTS', undefined, {
          otp_id: active.id,
          retry_after: Math.max(1, Math.ceil((active.expires_at - now) / 1000)),
          resend_available_at: record.resend_available_at ?? undefined,
        });
      }
    }
    await queueMessage(trx, ctx.keyring, now, {
      account_id: tenant.account_id,
      app_id: app.id,
      otp_id: id,
      environment: app.environment,
      channel,
      phone: phone.e164,
      country: row.country,
      sender_id: row.sender_id,
      locale: row.locale,
      text,
      code,
    });
    await recordActivity(trx, now, {
      account_id: tenant.account_id,
      app_id: app.id,
      type: 'otp.created',
      otp_id: id,
      key_id: tenant.key_id,
      detail: { channel, country: phone.country ?? null },
    });
    // Last: on PostgreSQL every send of a key updates the same counter rows,
    // whose locks are held until the commit; taken last, they are held for
    // the commit only, not also for the statements above (PostgreSQL send +30%).
    await takeSendLimits(
      trx,
      effectiveLimits(app),
      { app_id: app.id, key_id: tenant.key_id, phone: phone.e164, ip: input.ip },
      now,
    );
  });
  ctx.wakeDelivery();
  otpMetrics.sent.inc({ channel, environment: app.environment, kind: 'send' });
  return toRecord(row, now);
}
