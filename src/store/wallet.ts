import { type Insertable, type Selectable, sql } from 'kysely';
import type { Db } from './db.js';
import type { ChargeTable, LedgerEntryTable, PriceTable, WalletSettingsTable } from './schema-wallet.js';

export type LedgerRow = Selectable<LedgerEntryTable>;
export type ChargeRow = Selectable<ChargeTable>;
export type PriceRow = Selectable<PriceTable>;
export type WalletSettingsRow = Selectable<WalletSettingsTable>;

// --- Balance ---

/**
 * Takes `amount` from the balance only if it is there: one guarded UPDATE,
 * so parallel holds (on any process) never take more than the balance. On
 * PostgreSQL a second writer waits for the first's row lock and then checks
 * the guard against the committed balance. Answers the balance after, or
 * undefined when it was too low.
 */
export async function debitBalance(
  db: Db,
  accountId: string,
  amount: number,
): Promise<{ balance: number; low_balance_threshold: number; currency: string } | undefined> {
  const row = await db
    .updateTable('accounts')
    .set((eb) => ({ balance: eb('balance', '-', amount) }))
    .where('id', '=', accountId)
    .where('balance', '>=', amount)
    .returning(['balance', 'low_balance_threshold', 'currency'])
    .executeTakeFirst();
  return (
    row && {
      balance: Number(row.balance),
      low_balance_threshold: Number(row.low_balance_threshold),
      currency: row.currency,
    }
  );
}

/** Adds `amount` (≥ 0) to the balance; answers the balance after. */
export async function creditBalance(db: Db, accountId: string, amount: number): Promise<number | undefined> {
  const row = await db
    .updateTable('accounts')
    .set((eb) => ({ balance: eb('balance', '+', amount) }))
    .where('id', '=', accountId)
    .returning('balance')
    .executeTakeFirst();
  return row && Number(row.balance);
}

/** The account's wallet columns; on PostgreSQL with its row lock when `lock`. */
export async function readWallet(db: Db, accountId: string, lock = false) {
  const q = db
    .selectFrom('accounts')
    .select(['id', 'balance', 'currency', 'low_balance_threshold'])
    .where('id', '=', accountId);
  const row = await (lock ? q.forUpdate() : q).executeTakeFirst();
  return (
    row && {
      id: row.id,
      balance: Number(row.balance),
      currency: row.currency,
      low_balance_threshold: Number(row.low_balance_threshold),
    }
  );
}

export async function setLowBalanceThreshold(db: Db, accountId: string, threshold: number): Promise<boolean> {
  const row = await db
    .updateTable('accounts')
    .set({ low_balance_threshold: threshold })
    .where('id', '=', accountId)
    .returning('id')
    .executeTakeFirst();
  return row !== undefined;
}

// --- Ledger ---

export async function insertLedgerEntry(db: Db, row: Insertable<LedgerEntryTable>): Promise<LedgerRow> {
  return db.insertInto('ledger_entries').values(row).returningAll().executeTakeFirstOrThrow();
}

export async function findLedgerEntry(
  db: Db,
  accountId: string,
  type: string,
  reference: string,
): Promise<LedgerRow | undefined> {
  return db
    .selectFrom('ledger_entries')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('type', '=', type)
    .where('reference', '=', reference)
    .executeTakeFirst();
}

/** An account's entries, newest first, `limit + 1` of them (see pageOf). */
export async function listLedgerRows(
  db: Db,
  filter: { accountId: string; type?: string; before?: string; limit: number },
): Promise<LedgerRow[]> {
  let q = db
    .selectFrom('ledger_entries')
    .selectAll()
    .where('account_id', '=', filter.accountId)
    .orderBy('id', 'desc')
    .limit(filter.limit + 1);
  if (filter.type) q = q.where('type', '=', filter.type);
  if (filter.before) q = q.where('id', '<', filter.before);
  return q.execute();
}

// --- Charges ---

export async function insertCharge(db: Db, row: Insertable<ChargeTable>): Promise<void> {
  await db.insertInto('charges').values(row).execute();
}

export async function findCharge(db: Db, messageId: string): Promise<ChargeRow | undefined> {
  return db.selectFrom('charges').selectAll().where('message_id', '=', messageId).executeTakeFirst();
}

/**
 * Moves a charge from `from` to `to`: the race gate of settlement. Of any
 * number of callers (a repeated receipt, the sweeper, a retried worker) one
 * gets the row back; the others get nothing and must do nothing.
 */
export async function moveCharge(
  db: Db,
  messageId: string,
  from: 'held' | 'captured',
  to: 'captured' | 'released' | 'refunded',
  now: number,
): Promise<ChargeRow | undefined> {
  return db
    .updateTable('charges')
    .set({ state: to, settled_at: now })
    .where('message_id', '=', messageId)
    .where('state', '=', from)
    .returningAll()
    .executeTakeFirst();
}

/** What an account holds for messages in flight. */
export async function sumHeld(db: Db, accountId: string): Promise<number> {
  const row = await db
    .selectFrom('charges')
    .select((eb) => eb.fn.sum<number | string | null>('amount').as('held'))
    .where('account_id', '=', accountId)
    .where('state', '=', 'held')
    .executeTakeFirstOrThrow();
  return Number(row.held ?? 0);
}

/**
 * Held charges that the sweeper settles: those whose message was sent at or
 * before `sentBefore` and is still waiting for a receipt, and those whose
 * message already ended (delivered or failed) without settling its charge.
 */
export async function dueCharges(
  db: Db,
  sentBefore: number,
  limit: number,
): Promise<{ message_id: string; status: string }[]> {
  // Open holds drive the join (CROSS JOIN fixes SQLite's order; it keeps no
  // statistics and walked every delivered message instead: 0.5 s at 2M
  // stored, the event loop blocked), and 'held' is a literal so that the
  // partial index charges_held_age serves the order.
  return db
    .selectFrom('charges')
    .crossJoin('messages')
    .whereRef('messages.id', '=', 'charges.message_id')
    .select(['charges.message_id', 'messages.status'])
    .where('charges.state', '=', sql.lit('held'))
    .where((eb) =>
      eb.or([
        eb.and([eb('messages.status', '=', 'sent'), eb('messages.sent_at', '<=', sentBefore)]),
        eb('messages.status', 'in', ['delivered', 'failed']),
      ]),
    )
    .orderBy('charges.created_at')
    .limit(limit)
    .execute();
}

// --- Prices ---

/**
 * The price of one unit on `channel` to `country` in the account's currency:
 * the country's own price, else the channel's `*` price; undefined when
 * neither is set (the message is free).
 */
export async function findUnitPrice(
  db: Db,
  accountId: string,
  channel: string,
  country: string | null,
): Promise<number | undefined> {
  const rows = await db
    .selectFrom('prices')
    .innerJoin('accounts', 'accounts.currency', 'prices.currency')
    .select(['prices.country', 'prices.price'])
    .where('accounts.id', '=', accountId)
    .where('prices.channel', '=', channel)
    .where('prices.country', 'in', country ? [country, '*'] : ['*'])
    .execute();
  const own = rows.find((r) => r.country !== '*') ?? rows[0];
  return own && Number(own.price);
}

export async function upsertPrice(db: Db, row: PriceRow): Promise<PriceRow> {
  return db
    .insertInto('prices')
    .values(row)
    .onConflict((oc) =>
      oc
        .columns(['currency', 'channel', 'country'])
        .doUpdateSet({ price: row.price, updated_at: row.updated_at }),
    )
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function deletePrice(
  db: Db,
  key: { currency: string; channel: string; country: string },
): Promise<boolean> {
  const row = await db
    .deleteFrom('prices')
    .where('currency', '=', key.currency)
    .where('channel', '=', key.channel)
    .where('country', '=', key.country)
    .returning('price')
    .executeTakeFirst();
  return row !== undefined;
}

export async function listPrices(db: Db, currency?: string): Promise<PriceRow[]> {
  let q = db.selectFrom('prices').selectAll().orderBy('currency').orderBy('channel').orderBy('country');
  if (currency) q = q.where('currency', '=', currency);
  return q.execute();
}

// --- Settings ---

export async function readSettings(db: Db): Promise<WalletSettingsRow> {
  return db.selectFrom('wallet_settings').selectAll().where('id', '=', 1).executeTakeFirstOrThrow();
}

export async function updateSettings(
  db: Db,
  changes: Partial<Omit<WalletSettingsRow, 'id'>>,
): Promise<WalletSettingsRow> {
  return db
    .updateTable('wallet_settings')
    .set(changes)
    .where('id', '=', 1)
    .returningAll()
    .executeTakeFirstOrThrow();
}
