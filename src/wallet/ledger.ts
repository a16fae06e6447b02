import { recordActivity } from '../activity/log.js';
import type { Context } from '../context.js';
import { iso } from '../context.js';
import { invalid, OtpdError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import { type Page, pageOf } from '../core/pagination.js';
import type { Db } from '../store/db.js';
import {
  creditBalance,
  debitBalance,
  findLedgerEntry,
  insertLedgerEntry,
  type LedgerRow,
  listLedgerRows,
  readWallet,
  setLowBalanceThreshold,
  sumHeld,
} from '../store/wallet.js';

export const LEDGER_TYPES = ['topup', 'trial', 'adjustment', 'hold', 'capture', 'release', 'refund'] as const;
export type LedgerType = (typeof LEDGER_TYPES)[number];

/** One ledger entry as the API shows it; money in micro-units of the account's currency. */
export interface LedgerEntry {
  id: string;
  type: LedgerType;
  /** Change to the balance (what the account can spend). */
  amount: number;
  /** Change to the funds held for messages in flight. */
  held_change: number;
  balance_after: number;
  reference: string;
  note: string | null;
  app_id: string | null;
  created_at: string;
}

export const toEntry = (row: LedgerRow): LedgerEntry => ({
  id: row.id,
  type: row.type as LedgerType,
  amount: Number(row.amount),
  held_change: Number(row.held_change),
  balance_after: Number(row.balance_after),
  reference: row.reference,
  note: row.note,
  app_id: row.app_id,
  created_at: iso(row.created_at)!,
});

/** Appends one entry in the caller's transaction. */
export async function writeEntry(
  db: Db,
  now: number,
  entry: {
    account_id: string;
    app_id?: string | null;
    type: LedgerType;
    amount: number;
    held_change?: number;
    balance_after: number;
    reference: string;
    note?: string | null;
  },
): Promise<LedgerRow> {
  return insertLedgerEntry(db, {
    id: newId('led', now),
    account_id: entry.account_id,
    app_id: entry.app_id ?? null,
    type: entry.type,
    amount: entry.amount,
    held_change: entry.held_change ?? 0,
    balance_after: entry.balance_after,
    reference: entry.reference,
    note: entry.note ?? null,
    created_at: now,
  });
}

/**
 * `balance.low` when a debit took the balance from at or above the account's
 * threshold to below it: once per downward crossing, since the debits of one
 * account are serialized by its row and each sees the balance before it.
 */
export async function noteLowBalance(
  db: Db,
  now: number,
  account: { id: string; threshold: number; currency: string },
  before: number,
  after: number,
  cause: Record<string, unknown>,
): Promise<void> {
  if (account.threshold <= 0 || before < account.threshold || after >= account.threshold) return;
  await recordActivity(db, now, {
    account_id: account.id,
    app_id: null,
    type: 'balance.low',
    detail: {
      balance: after,
      low_balance_threshold: account.threshold,
      currency: account.currency,
      ...cause,
    },
  });
}

export interface Balance {
  account_id: string;
  /** What the account can spend now, in micro-units of `currency`. */
  balance: number;
  currency: string;
  /** Held for messages in flight: captured when delivered, released when they fail. */
  held: number;
  low_balance_threshold: number;
}

export async function getBalance(ctx: Context, accountId: string): Promise<Balance> {
  const wallet = await readWallet(ctx.store.db, accountId);
  if (!wallet) throw new OtpdError('NOT_FOUND', `No account ${accountId}.`);
  return {
    account_id: wallet.id,
    balance: wallet.balance,
    currency: wallet.currency,
    held: await sumHeld(ctx.store.db, accountId),
    low_balance_threshold: wallet.low_balance_threshold,
  };
}

export async function listLedger(
  ctx: Context,
  accountId: string,
  filter: { type?: LedgerType; cursor?: string; limit: number },
): Promise<Page<LedgerEntry>> {
  const rows = await listLedgerRows(ctx.store.db, {
    accountId,
    type: filter.type,
    before: filter.cursor,
    limit: filter.limit,
  });
  return pageOf(rows, filter.limit, toEntry);
}

export async function setThreshold(ctx: Context, accountId: string, threshold: number): Promise<Balance> {
  if (!Number.isSafeInteger(threshold) || threshold < 0) {
    throw invalid(
      'low_balance_threshold',
      'low_balance_threshold must be a whole number of micro-units, ≥ 0.',
    );
  }
  if (!(await setLowBalanceThreshold(ctx.store.db, accountId, threshold))) {
    throw new OtpdError('NOT_FOUND', `No account ${accountId}.`);
  }
  return getBalance(ctx, accountId);
}

export interface Credit {
  amount: number;
  reference: string;
  note?: string;
}

/**
 * Runs an operator's movement of money once per (account, type, reference):
 * a replay answers the entry the first call wrote. The account's row lock
 * (PostgreSQL; SQLite's write transaction serializes anyway) makes a replay
 * racing the first call wait for it and then find its entry.
 */
async function once(
  ctx: Context,
  accountId: string,
  type: 'topup' | 'adjustment',
  input: Credit,
  apply: (
    trx: Db,
    wallet: { balance: number; currency: string; low_balance_threshold: number },
    now: number,
  ) => Promise<LedgerRow>,
): Promise<LedgerEntry> {
  if (!Number.isSafeInteger(input.amount))
    throw invalid('amount', 'amount must be a whole number of micro-units.');
  const now = ctx.clock.now();
  const row = await ctx.store.tx(async (trx) => {
    const wallet = await readWallet(trx, accountId, ctx.store.rowLocks);
    if (!wallet) throw new OtpdError('NOT_FOUND', `No account ${accountId}.`);
    const earlier = await findLedgerEntry(trx, accountId, type, input.reference);
    if (earlier) {
      if (Number(earlier.amount) !== input.amount) {
        throw new OtpdError(
          'IDEMPOTENCY_KEY_REUSED',
          `The reference ${input.reference} was used for a ${type} of ${earlier.amount}.`,
          { field: 'reference' },
        );
      }
      return earlier;
    }
    return apply(trx, wallet, now);
  });
  return toEntry(row);
}

/** Credits a payment: idempotent on (account, reference). */
export async function topUp(ctx: Context, accountId: string, input: Credit): Promise<LedgerEntry> {
  if (input.amount <= 0) throw invalid('amount', 'A top-up must be more than 0.');
  return once(ctx, accountId, 'topup', input, async (trx, _wallet, now) => {
    const balance = (await creditBalance(trx, accountId, input.amount))!;
    const entry = await writeEntry(trx, now, {
      account_id: accountId,
      type: 'topup',
      amount: input.amount,
      balance_after: balance,
      reference: input.reference,
      note: input.note,
    });
    await recordActivity(trx, now, {
      account_id: accountId,
      app_id: null,
      type: 'wallet.topup',
      detail: { entry_id: entry.id, amount: input.amount, reference: input.reference, balance },
    });
    return entry;
  });
}

/**
 * The operator corrects a balance by a signed amount, idempotent on
 * (account, reference); it never takes the balance below 0.
 */
export async function adjustBalance(ctx: Context, accountId: string, input: Credit): Promise<LedgerEntry> {
  if (input.amount === 0) throw invalid('amount', 'An adjustment must not be 0.');
  return once(ctx, accountId, 'adjustment', input, async (trx, wallet, now) => {
    let balance: number;
    if (input.amount > 0) {
      balance = (await creditBalance(trx, accountId, input.amount))!;
    } else {
      const debited = await debitBalance(trx, accountId, -input.amount);
      if (!debited) {
        throw new OtpdError(
          'INSUFFICIENT_BALANCE',
          `The balance (${wallet.balance}) is less than the adjustment (${-input.amount}).`,
        );
      }
      balance = debited.balance;
    }
    const entry = await writeEntry(trx, now, {
      account_id: accountId,
      type: 'adjustment',
      amount: input.amount,
      balance_after: balance,
      reference: input.reference,
      note: input.note,
    });
    await recordActivity(trx, now, {
      account_id: accountId,
      app_id: null,
      type: 'wallet.adjusted',
      detail: { entry_id: entry.id, amount: input.amount, reference: input.reference, balance },
    });
    await noteLowBalance(
      trx,
      now,
      { id: accountId, threshold: wallet.low_balance_threshold, currency: wallet.currency },
      balance - input.amount,
      balance,
      { entry_id: entry.id },
    );
    return entry;
  });
}
