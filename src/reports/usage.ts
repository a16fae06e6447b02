import type { Context } from '../context.js';
import { iso } from '../context.js';
import { invalid } from '../core/errors.js';
import {
  chargeSums,
  messageCounts,
  otpFigures,
  type ReportDimension,
  rolledUpFigures,
} from '../store/reports.js';
import { readSnapshot } from '../store/snapshot.js';
import { readWallet } from '../store/wallet.js';
import type { Tenant } from '../tenancy/keys.js';

export const REPORT_DIMENSIONS = ['day', 'country', 'channel'] as const;

const DAY_MS = 86_400_000;
/** The longest period one report covers. */
export const MAX_REPORT_DAYS = 400;
/** The period when the request names none: the last 30 days. */
const DEFAULT_DAYS = 30;

/** The figures of one group (or of the whole period). */
export interface UsageFigures {
  /** OTPs created in the period: one per send request (resends are not new OTPs). */
  sent: number;
  /** Of those OTPs, how many had a message delivered (on any channel). */
  delivered: number;
  /** Of those OTPs, how many ended `failed`: no channel could deliver the code. */
  failed: number;
  /** Of those OTPs, how many were verified. */
  verified: number;
  /** verified ÷ sent, to 4 decimals; null when nothing was sent. */
  conversion_rate: number | null;
  /** Messages created in the period: each send, resend, channel fallback and template SMS. */
  messages: number;
  /** What those messages cost (captured charges), in micro-units of `currency`. */
  cost: number;
  /** What those messages still hold, waiting for their outcome. */
  held: number;
}

export interface UsageRow extends UsageFigures {
  /** `YYYY-MM-DD` (UTC) for `day`, the ISO country (null: unknown) or the channel. */
  key: string | null;
}

export interface UsageReport {
  app_id: string;
  from: string;
  to: string;
  group_by: ReportDimension;
  currency: string;
  totals: UsageFigures;
  items: UsageRow[];
}

const EMPTY = (): Omit<UsageFigures, 'conversion_rate'> => ({
  sent: 0,
  delivered: 0,
  failed: 0,
  verified: 0,
  messages: 0,
  cost: 0,
  held: 0,
});

const rate = (f: Omit<UsageFigures, 'conversion_rate'>): UsageFigures => ({
  ...f,
  conversion_rate: f.sent === 0 ? null : Math.round((f.verified / f.sent) * 10_000) / 10_000,
});

/**
 * The key's app's usage in [from, to), grouped by UTC day, country or
 * channel. OTP figures group by the OTP (its creation day, country and
 * channel), message counts and cost by the message. Every figure is read
 * from indexed range scans (see 0005_wallet), nothing is scanned outside
 * the period and the app. OTPs and messages that the retention purge
 * deleted count through their day's rollup, as of 00:00 UTC of that day
 * (see rolledUpFigures); cost is read from charges, which are never purged.
 */
export async function usageReport(
  ctx: Context,
  tenant: Tenant,
  input: { from?: number; to?: number; group_by?: ReportDimension },
): Promise<UsageReport> {
  const to = input.to ?? ctx.clock.now();
  const from = input.from ?? to - DEFAULT_DAYS * DAY_MS;
  if (from >= to) throw invalid('from', 'from must be before to.');
  if (to - from > MAX_REPORT_DAYS * DAY_MS) {
    throw invalid('to', `A report covers at most ${MAX_REPORT_DAYS} days.`);
  }
  const by = input.group_by ?? 'day';
  const range = { from, to };
  const appId = tenant.app.id;
  // One snapshot: a purge moves rows into the rollups in one transaction.
  const [otps, messages, charges, rolledUp, wallet] = await readSnapshot(ctx.store, (db) =>
    Promise.all([
      otpFigures(db, ctx.store.dialect, appId, range, by),
      messageCounts(db, appId, range, by),
      chargeSums(db, appId, range, by),
      rolledUpFigures(db, appId, range, by),
      readWallet(db, tenant.account_id),
    ]),
  );

  const groups = new Map<string | number | null, Omit<UsageFigures, 'conversion_rate'>>();
  const group = (k: string | number | null) => {
    // PostgreSQL answers the day number of a bigint division as a number, SQLite too; normalise anyway.
    const key = by === 'day' && k !== null ? Number(k) : k;
    let g = groups.get(key);
    if (!g) {
      g = EMPTY();
      groups.set(key, g);
    }
    return g;
  };
  // Raw rows and what the retention purge rolled up of older ones add up (src/retention/).
  for (const r of [...otps, ...rolledUp]) {
    const g = group(r.k);
    g.sent += r.sent;
    g.delivered += r.delivered;
    g.failed += r.failed;
    g.verified += r.verified;
  }
  for (const r of [...messages, ...rolledUp]) group(r.k).messages += r.messages;
  for (const r of charges) Object.assign(group(r.k), { cost: r.cost, held: r.held });

  const totals = EMPTY();
  const items: UsageRow[] = [];
  for (const [k, figures] of groups) {
    for (const name of Object.keys(totals) as (keyof typeof totals)[]) totals[name] += figures[name];
    const key = k === null ? null : by === 'day' ? iso(Number(k) * DAY_MS)!.slice(0, 10) : String(k);
    items.push({ key, ...rate(figures) });
  }
  // Days in order; countries and channels by name, the unknown country last.
  items.sort((a, b) =>
    a.key === b.key ? 0 : a.key === null ? 1 : b.key === null ? -1 : a.key < b.key ? -1 : 1,
  );
  return {
    app_id: appId,
    from: iso(from)!,
    to: iso(to)!,
    group_by: by,
    currency: wallet?.currency ?? 'USD',
    totals: rate(totals),
    items,
  };
}
