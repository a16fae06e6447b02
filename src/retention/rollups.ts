import type { PurgedMessage, PurgedOtp, ReportRollup } from '../store/retention.js';

const DAY_MS = 86_400_000;

type Counters = Omit<ReportRollup, 'app_id' | 'day' | 'country' | 'channel' | 'account_id'>;

/**
 * What a purged batch adds to the report rollups: OTPs by their creation
 * day, country and channel, messages by theirs (as src/store/reports.ts
 * groups the raw rows). An OTP counts as delivered when one of its messages
 * was, so its messages must be in the same batch. One row per group.
 */
export function foldIntoRollups(otps: PurgedOtp[], messages: PurgedMessage[]): ReportRollup[] {
  const groups = new Map<string, ReportRollup & Required<Counters>>();
  const group = (row: {
    account_id: string;
    app_id: string;
    created_at: number;
    country: string | null;
    channel: string;
  }) => {
    const day = Math.floor(Number(row.created_at) / DAY_MS);
    const country = row.country ?? '';
    const key = JSON.stringify([row.app_id, day, country, row.channel]);
    let g = groups.get(key);
    if (!g) {
      g = {
        app_id: row.app_id,
        day,
        country,
        channel: row.channel,
        account_id: row.account_id,
        otps: 0,
        otps_delivered: 0,
        otps_verified: 0,
        otps_failed: 0,
        otps_expired: 0,
        otps_canceled: 0,
        otps_max_attempts: 0,
        messages: 0,
        messages_delivered: 0,
        messages_failed: 0,
        segments: 0,
      };
      groups.set(key, g);
    }
    return g;
  };
  const delivered = new Set<string>();
  for (const m of messages) {
    const g = group(m);
    g.messages++;
    g.segments += m.segments ?? 0;
    if (m.status === 'delivered') {
      g.messages_delivered++;
      if (m.otp_id) delivered.add(m.otp_id);
    }
    if (m.status === 'failed') g.messages_failed++;
  }
  for (const o of otps) {
    const g = group(o);
    g.otps++;
    if (delivered.has(o.id)) g.otps_delivered++;
    if (o.status === 'verified') g.otps_verified++;
    else if (o.status === 'failed') g.otps_failed++;
    else if (o.status === 'expired') g.otps_expired++;
    else if (o.status === 'canceled') g.otps_canceled++;
    else if (o.status === 'max_attempts') g.otps_max_attempts++;
  }
  return [...groups.values()];
}
