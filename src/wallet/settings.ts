import type { Context } from '../context.js';
import { iso } from '../context.js';
import { invalid } from '../core/errors.js';
import type { Db } from '../store/db.js';
import { readSettings, updateSettings, type WalletSettingsRow } from '../store/wallet.js';

export const CAPTURE_ON = ['delivered', 'sent'] as const;
export const NO_RECEIPT = ['capture', 'release'] as const;

/**
 * The operator's wallet settings. They live in the database (not in the
 * environment) so that every process of a cluster settles by the same rules.
 */
export interface WalletSettings {
  /** The outcome that captures a message's hold: `delivered` (default) or `sent`. */
  capture_on: (typeof CAPTURE_ON)[number];
  /** Seconds a sent message may wait for its receipt before `no_receipt` settles its hold. */
  capture_after: number;
  /** What happens to the hold of a message with no receipt after `capture_after`. */
  no_receipt: (typeof NO_RECEIPT)[number];
  /** Free OTPs a new account gets: credit worth this many at the default SMS price (`sms`, `*`) of its currency. */
  trial_otps: number;
  updated_at: string | null;
}

const toSettings = (row: WalletSettingsRow): WalletSettings => ({
  capture_on: row.capture_on as WalletSettings['capture_on'],
  capture_after: row.capture_after,
  no_receipt: row.no_receipt as WalletSettings['no_receipt'],
  trial_otps: row.trial_otps,
  updated_at: row.updated_at === 0 ? null : iso(row.updated_at),
});

export async function loadSettings(db: Db): Promise<WalletSettings> {
  return toSettings(await readSettings(db));
}

export const getWalletSettings = (ctx: Context): Promise<WalletSettings> => loadSettings(ctx.store.db);

export async function changeWalletSettings(
  ctx: Context,
  changes: Partial<Omit<WalletSettings, 'updated_at'>>,
): Promise<WalletSettings> {
  if (changes.capture_on !== undefined && !CAPTURE_ON.includes(changes.capture_on)) {
    throw invalid('capture_on', `capture_on must be one of ${CAPTURE_ON.join(', ')}.`);
  }
  if (changes.no_receipt !== undefined && !NO_RECEIPT.includes(changes.no_receipt)) {
    throw invalid('no_receipt', `no_receipt must be one of ${NO_RECEIPT.join(', ')}.`);
  }
  if (
    changes.capture_after !== undefined &&
    (!Number.isInteger(changes.capture_after) ||
      changes.capture_after < 60 ||
      changes.capture_after > 30 * 86400)
  ) {
    throw invalid('capture_after', 'capture_after must be 60–2592000 seconds.');
  }
  if (
    changes.trial_otps !== undefined &&
    (!Number.isInteger(changes.trial_otps) || changes.trial_otps < 0 || changes.trial_otps > 100_000)
  ) {
    throw invalid('trial_otps', 'trial_otps must be 0–100000.');
  }
  const row = await updateSettings(ctx.store.db, {
    ...(changes.capture_on !== undefined ? { capture_on: changes.capture_on } : {}),
    ...(changes.capture_after !== undefined ? { capture_after: changes.capture_after } : {}),
    ...(changes.no_receipt !== undefined ? { no_receipt: changes.no_receipt } : {}),
    ...(changes.trial_otps !== undefined ? { trial_otps: changes.trial_otps } : {}),
    updated_at: ctx.clock.now(),
  });
  return toSettings(row);
}
