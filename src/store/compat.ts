import type { Db } from './db.js';

export interface OtpCountRow {
  channel: string;
  status: string;
  count: number;
  /** Of `count`, pending rows whose time has run out before any sweep ended them. */
  lapsed: number;
}

/** OTPs of an app created in [from, to), counted by channel and stored status. */
export async function countOtpsByChannelAndStatus(
  db: Db,
  appId: string,
  range: { from: number; to: number },
  now: number,
): Promise<OtpCountRow[]> {
  const rows = await db
    .selectFrom('otps')
    .select((eb) => [
      'channel',
      'status',
      eb.fn.countAll<number | string>().as('count'),
      eb.fn
        .sum<number | string>(
          eb
            .case()
            .when(eb.and([eb('status', '=', 'pending'), eb('expires_at', '<=', now)]))
            .then(1)
            .else(0)
            .end(),
        )
        .as('lapsed'),
    ])
    .where('app_id', '=', appId)
    .where('created_at', '>=', range.from)
    .where('created_at', '<', range.to)
    .groupBy(['channel', 'status'])
    .execute();
  // PostgreSQL answers counts and sums of bigints as text.
  return rows.map((r) => ({
    channel: r.channel,
    status: r.status,
    count: Number(r.count),
    lapsed: Number(r.lapsed),
  }));
}

const DAY_MS = 86_400_000;

/** The ended statuses, each with a rollup counter (pending OTPs are never purged). */
const ROLLED_UP_STATUSES = ['verified', 'expired', 'canceled', 'max_attempts', 'failed'] as const;

/**
 * The purged OTPs of an app that `report_rollups` keeps for the days whose
 * 00:00 UTC is in [from, to) (the rule of `rolledUpFigures`), in the rows of
 * `countOtpsByChannelAndStatus`: by channel and status, none lapsed.
 * One range scan of the rollups' key.
 */
export async function countRolledUpOtpsByChannelAndStatus(
  db: Db,
  appId: string,
  range: { from: number; to: number },
): Promise<OtpCountRow[]> {
  const rows = await db
    .selectFrom('report_rollups')
    .select((eb) => [
      'channel',
      eb.fn.sum<number | string>('otps_verified').as('verified'),
      eb.fn.sum<number | string>('otps_expired').as('expired'),
      eb.fn.sum<number | string>('otps_canceled').as('canceled'),
      eb.fn.sum<number | string>('otps_max_attempts').as('max_attempts'),
      eb.fn.sum<number | string>('otps_failed').as('failed'),
    ])
    .where('app_id', '=', appId)
    .where('day', '>=', Math.ceil(range.from / DAY_MS))
    .where('day', '<', Math.ceil(range.to / DAY_MS))
    .groupBy('channel')
    .execute();
  const out: OtpCountRow[] = [];
  for (const r of rows) {
    for (const status of ROLLED_UP_STATUSES) {
      // PostgreSQL answers sums of integers as text.
      const count = Number(r[status]);
      if (count > 0) out.push({ channel: r.channel, status, count, lapsed: 0 });
    }
  }
  return out;
}
