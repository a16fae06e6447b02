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
