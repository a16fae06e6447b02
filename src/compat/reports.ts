import type { Context } from '../context.js';
import { iso } from '../context.js';
import { invalid } from '../core/errors.js';
import { CHANNELS } from '../core/policy.js';
import type { OtpStatus } from '../otp/record.js';
import { countOtpsByChannelAndStatus, countRolledUpOtpsByChannelAndStatus } from '../store/compat.js';
import { readSnapshot } from '../store/snapshot.js';
import type { Tenant } from '../tenancy/keys.js';

const DAY_MS = 86_400_000;
/** The period when the request names none: the last 30 days. */
const DEFAULT_DAYS = 30;
/** The longest period one report covers. */
export const MAX_REPORT_DAYS = 400;

const STATUSES: OtpStatus[] = ['pending', 'verified', 'expired', 'canceled', 'max_attempts', 'failed'];

export interface OtpReport {
  app_id: string;
  from: string;
  to: string;
  /** OTPs created in the period (one per send request; resends are not new OTPs). */
  total: number;
  /** Those OTPs by their status now; a pending OTP whose time ran out counts as expired. */
  by_status: Record<OtpStatus, number>;
  /** Those OTPs by the channel of their last send. */
  by_channel: Record<string, number>;
  /** verified ÷ total, to 4 decimals; null when nothing was sent. */
  verification_rate: number | null;
}

/**
 * The generic OTP API's `/otp/reports`: the key's app's OTPs in [from, to)
 * counted by status and channel: the OTP table (one grouped range scan) plus
 * what the retention purge folded into `report_rollups` for the days whose
 * 00:00 UTC is in the period (as GET /v1/reports/usage counts them), so a
 * purge leaves the figures of whole days as they were. otpd's own, fuller
 * report is GET /v1/reports/usage.
 */
export async function otpReport(
  ctx: Context,
  tenant: Tenant,
  input: { from?: number; to?: number },
): Promise<OtpReport> {
  const now = ctx.clock.now();
  const to = input.to ?? now;
  const from = input.from ?? to - DEFAULT_DAYS * DAY_MS;
  if (from >= to) throw invalid('from', 'from must be before to.');
  if (to - from > MAX_REPORT_DAYS * DAY_MS) {
    throw invalid('from', `A report covers at most ${MAX_REPORT_DAYS} days.`);
  }
  const byStatus = Object.fromEntries(STATUSES.map((s) => [s, 0])) as Record<OtpStatus, number>;
  const byChannel: Record<string, number> = Object.fromEntries(CHANNELS.map((c) => [c, 0]));
  let total = 0;
  // One snapshot: a purge moves rows into the rollups in one transaction.
  const [live, purged] = await readSnapshot(ctx.store, (db) =>
    Promise.all([
      countOtpsByChannelAndStatus(db, tenant.app.id, { from, to }, now),
      countRolledUpOtpsByChannelAndStatus(db, tenant.app.id, { from, to }),
    ]),
  );
  for (const row of [...live, ...purged]) {
    total += row.count;
    byChannel[row.channel] = (byChannel[row.channel] ?? 0) + row.count;
    const status = row.status as OtpStatus;
    byStatus[status] += row.count - row.lapsed;
    byStatus.expired += row.lapsed;
  }
  return {
    app_id: tenant.app.id,
    from: iso(from)!,
    to: iso(to)!,
    total,
    by_status: byStatus,
    by_channel: byChannel,
    verification_rate: total === 0 ? null : Math.round((byStatus.verified / total) * 10_000) / 10_000,
  };
}
