import type { Context } from '../context.js';
import { iso } from '../context.js';
import { invalid, OtpdError } from '../core/errors.js';
import { CHANNELS, type Channel } from '../core/policy.js';
import { deletePrice, listPrices, type PriceRow, readWallet, upsertPrice } from '../store/wallet.js';

/**
 * The operator's price table: micro-units per message (per segment for SMS)
 * by currency, channel and country, `*` being the channel's default. An
 * account pays in its own currency, from that currency's rows; a message with
 * no price (no row for its country and no `*`) is free, so billing is opt-in.
 */
export interface Price {
  currency: string;
  channel: Channel;
  /** ISO 3166-1 alpha-2, or `*` for every country without its own price. */
  country: string;
  /** Micro-units of `currency` per `unit`. */
  price: number;
  unit: 'segment' | 'message';
  updated_at: string;
}

/** A price times an SMS's most segments (255) stays exact in a JavaScript number. */
export const MAX_PRICE = 1_000_000_000_000;

const toPrice = (row: PriceRow): Price => ({
  currency: row.currency,
  channel: row.channel as Channel,
  country: row.country,
  price: Number(row.price),
  unit: row.channel === 'sms' ? 'segment' : 'message',
  updated_at: iso(row.updated_at)!,
});

export interface PriceKey {
  currency?: string;
  channel: Channel;
  country: string;
}

function checkKey(key: PriceKey): { currency: string; channel: Channel; country: string } {
  const currency = (key.currency ?? 'USD').toUpperCase();
  if (!/^[A-Z]{3,5}$/.test(currency))
    throw invalid('currency', 'currency must be a code such as USD or NPR.');
  if (!CHANNELS.includes(key.channel))
    throw invalid('channel', `channel must be one of ${CHANNELS.join(', ')}.`);
  const country = key.country.toUpperCase();
  if (country !== '*' && !/^[A-Z]{2}$/.test(country)) {
    throw invalid('country', 'country must be an ISO 3166-1 alpha-2 code or *.');
  }
  return { currency, channel: key.channel, country };
}

export async function setPrice(ctx: Context, input: PriceKey & { price: number }): Promise<Price> {
  const key = checkKey(input);
  if (!Number.isSafeInteger(input.price) || input.price < 0 || input.price > MAX_PRICE) {
    throw invalid('price', `price must be a whole number of micro-units, 0–${MAX_PRICE}.`);
  }
  return toPrice(
    await upsertPrice(ctx.store.db, { ...key, price: input.price, updated_at: ctx.clock.now() }),
  );
}

export async function removePrice(ctx: Context, input: PriceKey): Promise<void> {
  const key = checkKey(input);
  if (!(await deletePrice(ctx.store.db, key))) {
    throw new OtpdError('NOT_FOUND', `No ${key.currency} price for ${key.channel} to ${key.country}.`);
  }
}

export async function listPriceTable(ctx: Context, currency?: string): Promise<Price[]> {
  return (await listPrices(ctx.store.db, currency?.toUpperCase())).map(toPrice);
}

/** What an account pays: the rows of its currency. */
export async function pricesForAccount(
  ctx: Context,
  accountId: string,
): Promise<{ currency: string; items: Price[] }> {
  const wallet = await readWallet(ctx.store.db, accountId);
  if (!wallet) throw new OtpdError('NOT_FOUND', `No account ${accountId}.`);
  return { currency: wallet.currency, items: await listPriceTable(ctx, wallet.currency) };
}
