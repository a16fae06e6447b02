import { setTimeout as sleep } from 'node:timers/promises';
import { recordActivity } from '../activity/log.js';
import type { Context } from '../context.js';
import { GroupCommit } from '../core/group-commit.js';
import type { Db } from '../store/db.js';
import {
  applyReceipt,
  findByProviderIds,
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

/** Receipts that name only the provider's id are looked up together, one query per provider and moment. */
const finders = new WeakMap<object, GroupCommit<{ provider: string; id: string }, MessageRow | undefined>>();

function finder(ctx: Context): GroupCommit<{ provider: string; id: string }, MessageRow | undefined> {
  let group = finders.get(ctx.store);
  if (!group) {
    group = new GroupCommit(async (refs) => {
      const found = new Map<string, MessageRow>();
      for (const provider of new Set(refs.map((r) => r.provider))) {
        const ids = refs.filter((r) => r.provider === provider).map((r) => r.id);
        for (const row of await findByProviderIds(ctx.store.db, provider, ids)) {
          found.set(`${provider}\n${row.provider_message_id}`, row);
        }
      }
      return refs.map((r) => found.get(`${r.provider}\n${r.id}`));
    });
    finders.set(ctx.store, group);
  }
  return group;
}

async function match(ctx: Context, receipt: Receipt): Promise<MessageRow | undefined> {
  const db = ctx.store.db;
  const { provider, phone } = receipt;
  if (!receipt.provider_message_id && !receipt.message_id) {
    return phone ? findUnsettledForPhone(db, provider, phone) : undefined;
  }
  // An `unknown` message lost its submit answer (link dropped, process
  // killed, timeout): no record of the id is coming, so it is the one when it
  // is the only unsettled message to that number at that provider. (One
  // still `sending` may be in flight here, its answer about to be recorded.)
  const lostAnswer = async () => {
    const only = phone ? await findUnsettledForPhone(db, provider, phone) : undefined;
    return only?.status === 'unknown' ? only : undefined;
  };
  const lookUp = async () =>
    (receipt.provider_message_id && !receipt.message_id
      ? await finder(ctx).add({ provider, id: receipt.provider_message_id })
      : await findMessageForReceipt(db, provider, receipt)) ?? (await lostAnswer());
  let row = await lookUp();
  for (const wait of RETRY_WAITS_MS) {
    if (row) break;
    await sleep(wait);
    row = await lookUp();
  }
  // A message still `sending` after the waits had its process die before the
  // answer was recorded (its lease has not run out yet).
  if (!row && phone) row = await findUnsettledForPhone(db, provider, phone);
  return row;
}

interface Settlement {
  ctx: Context;
  row: MessageRow;
  receipt: Receipt;
  at: number;
  now: number;
}

/**
 * Receipts come as fast as messages leave: their writes are grouped, one
 * transaction for those that arrive together (see GroupCommit), per store.
 */
const settlers = new WeakMap<object, GroupCommit<Settlement, MessageRow | undefined>>();

function settler(ctx: Context): GroupCommit<Settlement, MessageRow | undefined> {
  let group = settlers.get(ctx.store);
  if (!group) {
    group = new GroupCommit((items) =>
      ctx.store.tx(async (trx) => {
        const settled: (MessageRow | undefined)[] = [];
        for (const item of items) settled.push(await settle(trx, item));
        return settled;
      }),
    );
    settlers.set(ctx.store, group);
  }
  return group;
}

async function settle(trx: Db, { ctx, row, receipt, at, now }: Settlement): Promise<MessageRow | undefined> {
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
  // A receipt for a message whose answer was lost (`unknown`), or a final one
  // that overtook the worker's record of the send (which can then no longer
  // land), is also the news that it was sent.
  const unrecorded = row.status === 'unknown' || (row.status === 'sending' && receipt.status !== 'sent');
  if (unrecorded) {
    await recordActivity(trx, now, {
      account_id: settled.account_id,
      app_id: settled.app_id,
      type: 'message.sent',
      ...(settled.otp_id ? { otp_id: settled.otp_id } : {}),
      detail: {
        message_id: settled.id,
        kind: settled.kind,
        provider: receipt.provider,
        channel: settled.channel,
      },
    });
  }
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
  const updated = await settler(ctx).add({ ctx, row, receipt, at, now });
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
