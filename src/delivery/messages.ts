import type { Context } from '../context.js';
import { iso } from '../context.js';
import { OtpdError } from '../core/errors.js';
import type { Channel } from '../core/policy.js';
import { getMessage, listMessagesOfOtp, type MessageRow } from '../store/messages.js';
import type { Tenant } from '../tenancy/keys.js';

export type MessageStatus = 'queued' | 'sending' | 'sent' | 'delivered' | 'failed' | 'unknown';

/** What the API shows of a message: never its text (it holds the code). */
export interface MessageRecord {
  message_id: string;
  otp_id: string | null;
  kind: 'otp' | 'sms';
  channel: Channel;
  phone: string;
  status: MessageStatus;
  provider: string | null;
  provider_message_id: string | null;
  error: string | null;
  tries: number;
  segments: number | null;
  created_at: string;
  sent_at: string | null;
  delivered_at: string | null;
  failed_at: string | null;
}

export function toMessageRecord(row: MessageRow): MessageRecord {
  return {
    message_id: row.id,
    otp_id: row.otp_id,
    kind: row.kind as MessageRecord['kind'],
    channel: row.channel as Channel,
    phone: row.phone,
    status: row.status as MessageStatus,
    provider: row.provider,
    provider_message_id: row.provider_message_id,
    error: row.error,
    tries: row.tries,
    segments: row.segments,
    created_at: iso(row.created_at)!,
    sent_at: iso(row.sent_at),
    delivered_at: iso(row.delivered_at),
    failed_at: iso(row.failed_at),
  };
}

export async function getMessageRecord(ctx: Context, tenant: Tenant, id: string): Promise<MessageRecord> {
  const row = await getMessage(ctx.store.db, tenant.app.id, id);
  if (!row) throw new OtpdError('NOT_FOUND', `No message ${id}.`);
  return toMessageRecord(row);
}

/** Every message (send, resend, fallback) of one OTP, oldest first. */
export async function deliveriesOf(ctx: Context, otpId: string): Promise<MessageRecord[]> {
  return (await listMessagesOfOtp(ctx.store.db, otpId)).map(toMessageRecord);
}
