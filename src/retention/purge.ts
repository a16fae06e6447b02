import { setTimeout as sleep } from 'node:timers/promises';
import type { Context } from '../context.js';
import type { Db } from '../store/db.js';
import {
  addRollups,
  claimOldOtps,
  deleteMessages,
  deleteMessagesOfOtps,
  deleteOtps,
  deleteRows,
  deleteWebhookDeliveries,
  scanOldRows,
} from '../store/retention.js';
import { foldIntoRollups } from './rollups.js';

export interface RetentionOptions {
  /** Rows that ended before now − this are purged. */
  olderThanMs: number;
  /** Rows per transaction (OTPs, messages, deliveries, log rows: the rows each step picks; an OTP takes its messages along). Default 500. */
  batch?: number;
  /** Pause between two transactions, so that other writers get the SQLite write lock in between. Default 10 ms. */
  pauseMs?: number;
  /** Stops the run between two batches (a shutdown): what was committed stays, rollups included. */
  signal?: AbortSignal;
  /** Called after each committed batch: the step's name, the rows it picked and all the rows it deleted. */
  onBatch?(step: string, batch: { picked: number; deleted: number }): void;
}

interface Batch {
  /** Rows looked at: fewer than the batch size ends the step. */
  picked: number;
  /** Rows deleted in all (an OTP's messages and attempts, a delivery's attempts included). */
  deleted: number;
  /** Where the next batch goes on from (steps that scan by id): rows that stay are not read again. */
  last?: string;
}

interface Step {
  name: string;
  /** One batch in the caller's transaction. */
  run(trx: Db, at: { after: string; before: number; batch: number; rowLocks: boolean }): Promise<Batch>;
}

/** A step over rows found by id that go by age alone (or with a condition of `scanOldRows`). */
const agedStep = (
  table: 'webhook_events' | 'activity_log' | 'inbox_messages' | 'mail_outbox' | 'user_tokens',
): Step => ({
  name: table,
  async run(trx, at) {
    const rows = await scanOldRows(trx, table, { ...at, limit: at.batch });
    const ids = rows.filter((r) => r.go).map((r) => r.id);
    return { picked: rows.length, deleted: await deleteRows(trx, table, ids), last: rows.at(-1)?.id };
  },
});

/**
 * In order: OTPs before template SMS, deliveries before events (an event
 * goes once no delivery refers to it). The wallet's ledger and charges are
 * never purged: Σ ledger = balance must keep holding, and reports read cost
 * from the charges.
 */
const STEPS: Step[] = [
  {
    name: 'otps',
    async run(trx, { before, batch, rowLocks }) {
      const ids = await claimOldOtps(trx, before, batch, rowLocks);
      // Fold exactly what this transaction deleted: a purger that lost the
      // race for a row gets nothing back for it and counts nothing.
      const { otps, attempts } = await deleteOtps(trx, ids);
      const messages = await deleteMessagesOfOtps(
        trx,
        otps.map((o) => o.id),
      );
      await addRollups(trx, foldIntoRollups(otps, messages));
      return { picked: ids.length, deleted: otps.length + messages.length + attempts };
    },
  },
  {
    name: 'sms',
    async run(trx, at) {
      const rows = await scanOldRows(trx, 'messages', { ...at, limit: at.batch });
      const messages = await deleteMessages(
        trx,
        rows.filter((r) => r.go).map((r) => r.id),
      );
      await addRollups(trx, foldIntoRollups([], messages));
      return { picked: rows.length, deleted: messages.length, last: rows.at(-1)?.id };
    },
  },
  {
    name: 'webhook_deliveries',
    async run(trx, at) {
      const rows = await scanOldRows(trx, 'webhook_deliveries', { ...at, limit: at.batch });
      const ids = rows.filter((r) => r.go).map((r) => r.id);
      return { picked: rows.length, deleted: await deleteWebhookDeliveries(trx, ids), last: rows.at(-1)?.id };
    },
  },
  agedStep('webhook_events'),
  agedStep('activity_log'),
  agedStep('inbox_messages'),
  agedStep('mail_outbox'),
  agedStep('user_tokens'),
];

/**
 * Purges terminal OTPs, their messages and old log rows past the retention
 * age, in small batches, keeping the aggregates that reports need.
 * Safe to run on every process at once. Returns how many rows went.
 *
 * Each batch is one transaction that picks rows, deletes them and adds what
 * it deleted to `report_rollups`: a batch is folded once or not at all.
 * Each step runs until a batch comes back short.
 */
export async function purgeOldRows(ctx: Context, options: RetentionOptions): Promise<number> {
  const batch = options.batch ?? 500;
  const pauseMs = options.pauseMs ?? 10;
  const before = ctx.clock.now() - options.olderThanMs;
  const purged: Record<string, number> = {};
  let total = 0;
  for (const step of STEPS) {
    let after = '';
    while (!options.signal?.aborted) {
      const { picked, deleted, last } = await ctx.store.tx((trx) =>
        step.run(trx, { after, before, batch, rowLocks: ctx.store.rowLocks }),
      );
      if (last) after = last;
      if (deleted > 0) {
        purged[step.name] = (purged[step.name] ?? 0) + deleted;
        total += deleted;
      }
      options.onBatch?.(step.name, { picked, deleted });
      if (picked < batch) break;
      await sleep(pauseMs);
    }
  }
  if (total > 0) ctx.log.info({ purged, before: new Date(before).toISOString() }, 'retention purge');
  return total;
}
