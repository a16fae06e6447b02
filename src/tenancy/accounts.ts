import type { Context } from '../context.js';
import { iso } from '../context.js';
import { OtpdError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import { type Page, pageOf } from '../core/pagination.js';
import { type AccountRow, findAccount, insertAccount, listAccounts } from '../store/tenancy.js';

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

export async function createAccount(
  ctx: Context,
  input: { name: string; email?: string; currency?: string },
): Promise<Account> {
  const now = ctx.clock.now();
  const row = await insertAccount(ctx.store.db, {
    id: newId('acc', now),
    name: input.name,
    email: input.email ?? null,
    balance: 0,
    currency: input.currency ?? 'USD',
    created_at: now,
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
