import type { Context } from '../context.js';
import { iso } from '../context.js';
import { OtpdError } from '../core/errors.js';
import { type Page, pageOf } from '../core/pagination.js';
import { deliveriesOf, type MessageRecord } from '../delivery/messages.js';
import { findOtp, listAttempts, listOtps } from '../store/otps.js';
import type { Tenant } from '../tenancy/keys.js';
import { type OtpRecord, type OtpStatus, toRecord } from './record.js';
import { resolvePhone } from './send.js';

export interface OtpDetail extends OtpRecord {
  delivery_status: MessageRecord['status'] | null;
  deliveries: MessageRecord[];
}

export async function getOtp(ctx: Context, tenant: Tenant, otpId: string): Promise<OtpDetail> {
  const row = await findOtp(ctx.store.db, tenant.app.id, otpId);
  if (!row) throw new OtpdError('OTP_NOT_FOUND');
  const deliveries = await deliveriesOf(ctx, row.id);
  return {
    ...toRecord(row, ctx.clock.now()),
    // Delivered once is delivered, whatever a later message is doing.
    delivery_status: deliveries.some((d) => d.status === 'delivered')
      ? 'delivered'
      : (deliveries.at(-1)?.status ?? null),
    deliveries,
  };
}

export interface OtpListFilter {
  status?: OtpStatus;
  phone?: string;
  reference?: string;
  from?: number;
  to?: number;
  cursor?: string;
  limit: number;
}

export async function listOtpRecords(
  ctx: Context,
  tenant: Tenant,
  f: OtpListFilter,
): Promise<Page<OtpRecord>> {
  const now = ctx.clock.now();
  const rows = await listOtps(ctx.store.db, {
    appId: tenant.app.id,
    status: f.status,
    phone: f.phone === undefined ? undefined : resolvePhone(tenant.app, f.phone).e164,
    reference: f.reference,
    from: f.from,
    to: f.to,
    before: f.cursor,
    limit: f.limit,
    now,
  });
  const page = pageOf(rows, f.limit, (row) => toRecord(row, now));
  return page;
}

export interface Attempt {
  id: string;
  outcome: 'correct' | 'incorrect';
  created_at: string;
}

export async function listOtpAttempts(ctx: Context, tenant: Tenant, otpId: string) {
  const row = await findOtp(ctx.store.db, tenant.app.id, otpId);
  if (!row) throw new OtpdError('OTP_NOT_FOUND');
  const attempts = await listAttempts(ctx.store.db, otpId);
  return {
    otp_id: otpId,
    attempts: row.attempts,
    max_attempts: row.max_attempts,
    items: attempts.map(
      (a): Attempt => ({
        id: a.id,
        outcome: a.outcome as Attempt['outcome'],
        created_at: iso(a.created_at)!,
      }),
    ),
  };
}
