import { sql } from 'kysely';
import type { Db, DialectName } from './db.js';

export type ReportDimension = 'day' | 'country' | 'channel';

const DAY_MS = 86_400_000;

/** The group key of a row of `table`: its UTC day number, country or channel. */
function groupKey(by: ReportDimension, table: string) {
  const column = (name: string) => sql.ref(`${table}.${name}`);
  const key =
    by === 'day'
      ? sql<string | number | null>`${column('created_at')} / ${sql.lit(DAY_MS)}`
      : sql<string | number | null>`${column(by)}`;
  return key.as('k');
}

export interface OtpFigures {
  k: string | number | null;
  sent: number;
  delivered: number;
  failed: number;
  verified: number;
}

/**
 * Messages of an OTP are created while it is pending, and no OTP is pending
 * longer than the longest expiry (86 400 s): the messages of the OTPs created
 * in [from, to) were all created in [from, to + this).
 */
const LONGEST_OTP_MS = 86_400_000;

/**
 * OTPs created in [from, to), grouped: how many, how many verified, how many
 * ended failed, and how many had a message delivered. One range scan of
 * `otps_report` (covering). "Delivered" reads the partial index
 * `messages_delivered` either way, with the query shape each planner does
 * best with (the answer is the same): SQLite probes it once per OTP (a B-tree
 * lookup, 0.2 s for 300 000 OTPs); PostgreSQL would run that probe as a
 * subplan per row (with JIT, 0.8 s), so there it is one join with the
 * period's delivered messages (0.4 s).
 */
export async function otpFigures(
  db: Db,
  dialect: DialectName,
  appId: string,
  range: { from: number; to: number },
  by: ReportDimension,
): Promise<OtpFigures[]> {
  const q = db
    .selectFrom('otps as o')
    .where('o.app_id', '=', appId)
    .where('o.created_at', '>=', range.from)
    .where('o.created_at', '<', range.to);
  const rows = await (dialect === 'postgres'
    ? q
        .leftJoin(
          (eb) =>
            eb
              .selectFrom('messages')
              .select('otp_id')
              .distinct()
              .where('app_id', '=', appId)
              .where('status', '=', 'delivered')
              .where('created_at', '>=', range.from)
              .where('created_at', '<', range.to + LONGEST_OTP_MS)
              .as('d'),
          (join) => join.onRef('d.otp_id', '=', 'o.id'),
        )
        .select((eb) => [eb.fn.count<number>('d.otp_id').as('delivered')])
    : q.select((eb) => [
        eb.fn
          .sum<number>(
            eb
              .case()
              .when(
                eb.exists(
                  eb
                    .selectFrom('messages as m')
                    .select('m.otp_id')
                    .where('m.app_id', '=', appId)
                    .whereRef('m.otp_id', '=', 'o.id')
                    .where('m.status', '=', 'delivered'),
                ),
              )
              .then(1)
              .else(0)
              .end(),
          )
          .as('delivered'),
      ])
  )
    .select((eb) => [
      groupKey(by, 'o'),
      eb.fn.countAll<number>().as('sent'),
      eb.fn.sum<number>(eb.case().when('o.status', '=', 'verified').then(1).else(0).end()).as('verified'),
      eb.fn.sum<number>(eb.case().when('o.status', '=', 'failed').then(1).else(0).end()).as('failed'),
    ])
    .groupBy('k')
    .execute();
  return rows.map((r) => ({
    k: r.k as OtpFigures['k'],
    sent: Number(r.sent),
    delivered: Number(r.delivered),
    failed: Number(r.failed),
    verified: Number(r.verified),
  }));
}

/** Messages (sends, resends, fallbacks, template SMS) created in [from, to), grouped. */
export async function messageCounts(
  db: Db,
  appId: string,
  range: { from: number; to: number },
  by: ReportDimension,
): Promise<{ k: string | number | null; messages: number }[]> {
  const rows = await db
    .selectFrom('messages')
    .select((eb) => [groupKey(by, 'messages'), eb.fn.countAll<number>().as('messages')])
    .where('app_id', '=', appId)
    .where('created_at', '>=', range.from)
    .where('created_at', '<', range.to)
    .groupBy('k')
    .execute();
  return rows.map((r) => ({ k: r.k as string | number | null, messages: Number(r.messages) }));
}

/** What the messages created in [from, to) cost (captured) and still hold, grouped. */
export async function chargeSums(
  db: Db,
  appId: string,
  range: { from: number; to: number },
  by: ReportDimension,
): Promise<{ k: string | number | null; cost: number; held: number }[]> {
  const rows = await db
    .selectFrom('charges')
    .select((eb) => [
      groupKey(by, 'charges'),
      eb.fn
        .sum<number | string>(eb.case().when('state', '=', 'captured').then(eb.ref('amount')).else(0).end())
        .as('cost'),
      eb.fn
        .sum<number | string>(eb.case().when('state', '=', 'held').then(eb.ref('amount')).else(0).end())
        .as('held'),
    ])
    .where('app_id', '=', appId)
    .where('created_at', '>=', range.from)
    .where('created_at', '<', range.to)
    .groupBy('k')
    .execute();
  return rows.map((r) => ({ k: r.k as string | number | null, cost: Number(r.cost), held: Number(r.held) }));
}

export interface RolledUpFigures {
  k: string | number | null;
  sent: number;
  delivered: number;
  failed: number;
  verified: number;
  messages: number;
}

/**
 * What the retention purge folded into `report_rollups` for the days that
 * start in [from, to), grouped: the purged rows of a day count as of its
 * 00:00 UTC, so a day-aligned period gets exactly what the raw rows gave.
 * One range scan of the rollups' key.
 */
export async function rolledUpFigures(
  db: Db,
  appId: string,
  range: { from: number; to: number },
  by: ReportDimension,
): Promise<RolledUpFigures[]> {
  const key =
    by === 'day'
      ? sql<string | number | null>`${sql.ref('day')}`
      : by === 'country'
        ? sql<string | number | null>`nullif(${sql.ref('country')}, '')`
        : sql<string | number | null>`${sql.ref('channel')}`;
  const rows = await db
    .selectFrom('report_rollups')
    .select((eb) => [
      key.as('k'),
      eb.fn.sum<number | string>('otps').as('sent'),
      eb.fn.sum<number | string>('otps_delivered').as('delivered'),
      eb.fn.sum<number | string>('otps_failed').as('failed'),
      eb.fn.sum<number | string>('otps_verified').as('verified'),
      eb.fn.sum<number | string>('messages').as('messages'),
    ])
    .where('app_id', '=', appId)
    .where('day', '>=', Math.ceil(range.from / DAY_MS))
    .where('day', '<', Math.ceil(range.to / DAY_MS))
    .groupBy('k')
    .execute();
  return rows.map((r) => ({
    k: r.k,
    sent: Number(r.sent),
    delivered: Number(r.delivered),
    failed: Number(r.failed),
    verified: Number(r.verified),
    messages: Number(r.messages),
  }));
}
