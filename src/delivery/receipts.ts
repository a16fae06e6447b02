import { setTimeout as sleep } from 'node:timers/promises';
import { recordActivity } from '../activity/log.js';
import type { Context } from '../context.js';
import {
  applyReceipt,
  findMessageForReceipt,
  findUnsettledForPhone,
  type MessageRow,
} from '../store/messages.js';
import { settleCharge } from '../wallet/charges.js';
import { afterFailure } from './fallback.js';
import { deliveryMetrics } from './metrics.js';
import type { Receipt } from './provider.js';

/**
 * A receipt can overtake the worker's own record of the send (a fast SMSC
 * answers `submit_sm` and reports delivery before the row says which id it
 * got): an unmatched receipt is looked up again after these waits.
 */
const RETRY_WAITS_MS = [100, 400, 1500, 3000];

async function match(ctx: Context, receipt: Receipt): Promise<MessageRow | undefined> {
  const db = ctx.store.db;
  if (!receipt.provider_message_id && !receipt.message_id) {
    return receipt.phone ? findUnsettledForPhone(db, receipt.provider, receipt.phone) : undefined;
  }
  let row = await findMessageForReceipt(db, receipt.provider, receipt);
  for (const wait of RETRY_WAITS_MS) {
    if (row) break;
    await sleep(wait);
    row = await findMessageForReceipt(db, receipt.provider, receipt);
  }
  // The submit answer was lost (link dropped, process killed): the oldest
  // unsettled message to that number at that provider is the one.
  if (!row && receipt.phone) row = await findUnsettledForPhone(db, receipt.provider, receipt.phone);
  return row;
}

/**
 * Settles a message from a provider's receipt or status callback: delivered,
 * failed (then the channel fallback takes over), or sent (an unknown outcome
 * turns out accepted). Receipts may repeat and come out of order; a final
 * status is never overwritten. Answers whether the receipt matched a message.
 */
export async function recordReceipt(ctx: Context, receipt: Receipt): Promise<boolean> {
  const row = await match(ctx, receipt);
  if (!row) {
    deliveryMetrics.receipts.inc({ provider: receipt.provider, status: receipt.status, matched: 'false' });
    ctx.log.warn(
      {
        provider: receipt.provider,
        provider_message_id: receipt.provider_message_id,
        status: receipt.status,
      },
      'receipt for no known message',
    );
    return false;
  }
  deliveryMetrics.receipts.inc({ provider: receipt.provider, status: receipt.status, matched: 'true' });
  const now = ctx.clock.now();
  const at = receipt.at ?? now;
  const updated = await ctx.store.tx(async (trx) => {
    const settled = await applyReceipt(
      trx,
      row.id,
      {
        status: receipt.status,
        provider_message_id: receipt.provider_message_id ?? null,
        error: receipt.error ?? null,
        at,
      },
      now,
    );
    if (!settled) return undefined;
    if (receipt.status !== 'sent') {
      await recordActivity(trx, now, {
        account_id: settled.account_id,
        app_id: settled.app_id,
        type: receipt.status === 'delivered' ? 'message.delivered' : 'message.failed',
        ...(settled.otp_id ? { otp_id: settled.otp_id } : {}),
        detail: {
          message_id: settled.id,
          kind: settled.kind,
          provider: receipt.provider,
          channel: settled.channel,
          ...(receipt.error ? { error: receipt.error } : {}),
        },
      });
    }
    await settleCharge(ctx, trx, settled, receipt.status, now);
    if (receipt.status === 'failed') await afterFailure(ctx, trx, settled, now);
    return settled;
  });
  if (!updated) return true;
  const labels = { provider: receipt.provider, channel: updated.channel };
  if (receipt.status === 'delivered') deliveryMetrics.delivered.inc(labels);
  if (receipt.status === 'failed') deliveryMetrics.failed.inc({ ...labels, outcome: 'final' });
  if (receipt.status !== 'sent' && updated.sent_at !== null) {
    deliveryMetrics.receiptLatency.observe(
      { ...labels, status: receipt.status },
      Math.max(0, at - updated.sent_at) / 1000,
    );
  }
  if (receipt.status === 'failed') ctx.wakeDelivery();
  return true;
}
