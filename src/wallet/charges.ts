import type { Context } from '../context.js';
import { invalid, OtpdError } from '../core/errors.js';
import { countSegments } from '../core/segments.js';
import type { Db } from '../store/db.js';
import type { MessageRow } from '../store/messages.js';
import { readOncePerTx } from '../store/tx-memo.js';
import {
  type ChargeRow,
  creditBalance,
  debitBalance,
  findCharge,
  findLedgerEntry,
  findUnitPrice,
  insertCharge,
  moveCharge,
  readWallet,
} from '../store/wallet.js';
import { type LedgerEntry, noteLowBalance, toEntry, writeEntry } from './ledger.js';
import { loadSettings } from './settings.js';

/** What a message about to be queued is, for its price. */
export interface Chargeable {
  message_id: string;
  account_id: string;
  app_id: string;
  environment: string;
  channel: string;
  country: string | null;
  text: string;
}

/**
 * Holds a live message's price in the transaction that queues it, before
 * anything of it is written: with too little balance it throws
 * INSUFFICIENT_BALANCE and the whole send rolls back (nothing sent, nothing
 * held). Sandbox messages and messages with no price cost nothing and hold
 * nothing. SMS are priced per segment.
 */
export async function holdCharge(db: Db, now: number, m: Chargeable): Promise<void> {
  if (m.environment !== 'live') return;
  const unitPrice = await findUnitPrice(db, m.account_id, m.channel, m.country);
  if (!unitPrice) return;
  const units = m.channel === 'sms' ? countSegments(m.text).segments : 1;
  const amount = unitPrice * units;
  // The guarded debit is the race gate: of parallel sends only those the balance covers get a row back.
  const debited = await debitBalance(db, m.account_id, amount);
  if (!debited) {
    throw new OtpdError(
      'INSUFFICIENT_BALANCE',
      `The balance does not cover this message (${amount} micro-units${units > 1 ? `, ${units} segments` : ''}).`,
    );
  }
  await insertCharge(db, {
    message_id: m.message_id,
    account_id: m.account_id,
    app_id: m.app_id,
    channel: m.channel,
    country: m.country,
    units,
    unit_price: unitPrice,
    amount,
    state: 'held',
    created_at: now,
    settled_at: null,
  });
  await writeEntry(db, now, {
    account_id: m.account_id,
    app_id: m.app_id,
    type: 'hold',
    amount: -amount,
    held_change: amount,
    balance_after: debited.balance,
    reference: m.message_id,
  });
  await noteLowBalance(
    db,
    now,
    { id: m.account_id, threshold: debited.low_balance_threshold, currency: debited.currency },
    debited.balance + amount,
    debited.balance,
    { message_id: m.message_id },
  );
}

/**
 * Takes a held charge for good. The balance already went down with the hold,
 * so the entry moves the amount from held to spent and leaves the balance.
 */
export async function captureCharge(db: Db, messageId: string, now: number): Promise<boolean> {
  const charge = await moveCharge(db, messageId, 'held', 'captured', now);
  if (!charge) return false;
  const wallet = await readWallet(db, charge.account_id);
  await writeEntry(db, now, {
    account_id: charge.account_id,
    app_id: charge.app_id,
    type: 'capture',
    amount: 0,
    held_change: -Number(charge.amount),
    balance_after: wallet!.balance,
    reference: messageId,
  });
  return true;
}

/** Gives a held charge back to the balance. */
export async function releaseCharge(db: Db, messageId: string, now: number): Promise<boolean> {
  const charge = await moveCharge(db, messageId, 'held', 'released', now);
  if (!charge) return false;
  const amount = Number(charge.amount);
  const balance = (await creditBalance(db, charge.account_id, amount))!;
  await writeEntry(db, now, {
    account_id: charge.account_id,
    app_id: charge.app_id,
    type: 'release',
    amount,
    held_change: -amount,
    balance_after: balance,
    reference: messageId,
  });
  return true;
}

/**
 * A message's outcome settles its hold: captured on `delivered` (or on `sent`
 * when the operator captures on sent), released on `failed`. Runs in the
 * transaction that records the outcome. Settling moves the charge out of
 * `held` with a guarded update, so a repeated receipt, a retried worker or
 * the sweeper never settles one twice, and a `failed` after a capture
 * releases nothing. Messages without a charge (sandbox, free) are untouched.
 */
export async function settleCharge(
  _ctx: Context,
  db: Db,
  message: MessageRow,
  outcome: 'sent' | 'delivered' | 'failed',
  now: number,
): Promise<void> {
  if (message.environment !== 'live') return;
  if (outcome === 'delivered') {
    await captureCharge(db, message.id, now);
  } else if (outcome === 'failed') {
    await releaseCharge(db, message.id, now);
  } else {
    if ((await readOncePerTx(db, 'wallet-settings', () => loadSettings(db))).capture_on !== 'sent') return;
    const charge = await findCharge(db, message.id);
    if (charge?.state === 'held') await captureCharge(db, message.id, now);
  }
}

/**
 * The operator gives a captured charge back (a message the tenant should not
 * pay for). Idempotent: a second refund of the message answers the first.
 */
export async function refundCharge(
  ctx: Context,
  messageId: string,
  input: { note?: string } = {},
): Promise<LedgerEntry> {
  const now = ctx.clock.now();
  const row = await ctx.store.tx(async (trx) => {
    const charge: ChargeRow | undefined = await moveCharge(trx, messageId, 'captured', 'refunded', now);
    if (!charge) {
      const found = await findCharge(trx, messageId);
      if (!found) throw new OtpdError('NOT_FOUND', `No charge for message ${messageId}.`);
      if (found.state === 'refunded')
        return (await findLedgerEntry(trx, found.account_id, 'refund', messageId))!;
      throw invalid('message_id', `Only a captured charge can be refunded; this one is ${found.state}.`);
    }
    const amount = Number(charge.amount);
    const balance = (await creditBalance(trx, charge.account_id, amount))!;
    return writeEntry(trx, now, {
      account_id: charge.account_id,
      app_id: charge.app_id,
      type: 'refund',
      amount,
      balance_after: balance,
      reference: messageId,
      note: input.note,
    });
  });
  return toEntry(row);
}
