import type { Context } from '../context.js';
import { iso } from '../context.js';
import { OtpdError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import { type Page, pageOf } from '../core/pagination.js';
import { type AccountRow, findAccount, insertAccount, listAccounts } from '../store/tenancy.js';
import { creditBalance, findUnitPrice } from '../store/wallet.js';
import { writeEntry } from '../wallet/ledger.js';
import { loadSettings } from '../wallet/settings.js';

export interface Account {
  id: string;
  name: string;
  email: string | null;
  /** Integer micro-units of `currency`. */
  balance: number;
  currency: string;
  created_at: string;
}

const toAccount = (row: AccountRow): Account => ({
  id: row.id,
  name: row.name,
  email: row.email,
  balance: Number(row.balance),
  currency: row.currency,
  created_at: iso(row.created_at)!,
});

/**
 * Creates an account. With `trial_otps` set (wallet settings), it starts with
 * credit worth that many OTPs at its currency's default SMS price, as one
 * `trial` ledger entry; with no such price there is nothing to give.
 */
export async function createAccount(
  ctx: Context,
  input: { name: string; email?: string; currency?: string },
): Promise<Account> {
  const now = ctx.clock.now();
  const row = await ctx.store.tx(async (trx) => {
    const account = await insertAccount(trx, {
      id: newId('acc', now),
      name: input.name,
      email: input.email ?? null,
      balance: 0,
      currency: input.currency ?? 'USD',
      created_at: now,
    });
    const { trial_otps } = await loadSettings(trx);
    if (trial_otps === 0) return account;
    const unitPrice = (await findUnitPrice(trx, account.id, 'sms', null)) ?? 0;
    const credit = trial_otps * unitPrice;
    if (credit === 0) return account;
    const balance = (await creditBalance(trx, account.id, credit))!;
    await writeEntry(trx, now, {
      account_id: account.id,
      type: 'trial',
      amount: credit,
      balance_after: balance,
      reference: 'trial',
      note: `${trial_otps} free OTPs at ${unitPrice}`,
    });
    return { ...account, balance };
  });
  return toAccount(row);
}

export async function getAccount(ctx: Context, id: string): Promise<Account> {
  const row = await findAccount(ctx.store.db, id);
  if (!row) throw new OtpdError('NOT_FOUND', `No account ${id}.`);
  return toAccount(row);
}

export async function listAllAccounts(
  ctx: Context,
  page: { limit: number; cursor?: string },
): Promise<Page<Account>> {
  const rows = await listAccounts(ctx.store.db, { limit: page.limit, after: page.cursor });
  return pageOf(rows, page.limit, toAccount);
}
