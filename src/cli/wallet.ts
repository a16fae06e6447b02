import { type Command, InvalidArgumentError } from 'commander';
import { CHANNELS, type Channel } from '../core/policy.js';
import {
  adjustBalance,
  getBalance,
  LEDGER_TYPES,
  type LedgerType,
  listLedger,
  setThreshold,
  topUp,
} from '../wallet/ledger.js';
import { listPriceTable, removePrice, setPrice } from '../wallet/prices.js';
import { CAPTURE_ON, changeWalletSettings, getWalletSettings, NO_RECEIPT } from '../wallet/settings.js';
import { integer, print, withServices } from './services.js';

const oneOf =
  <T extends string>(values: readonly T[]) =>
  (value: string): T => {
    if (!values.includes(value as T)) throw new InvalidArgumentError(`One of ${values.join(', ')}.`);
    return value as T;
  };

/** `otpd wallet …` and `otpd prices …`: top-ups and the price table (mirrors /admin/v1). */
export function registerWalletCommands(program: Command): void {
  const wallet = program
    .command('wallet')
    .description("accounts' wallets: top-ups, adjustments, ledger, settings");
  wallet
    .command('topup <account_id> <amount>')
    .description('credit a payment in micro-units; the same --reference again credits nothing')
    .requiredOption('--reference <ref>', 'your payment reference')
    .option('--note <text>', 'a note for the ledger')
    .action(
      async (
        accountId: string,
        amount: string,
        opts: { reference: string; note?: string },
        command: Command,
      ) =>
        withServices(command, async (ctx) =>
          print(
            await topUp(ctx, accountId, {
              amount: integer(amount),
              reference: opts.reference,
              note: opts.note,
            }),
          ),
        ),
    );
  wallet
    .command('adjust <account_id> <amount>')
    .description('correct a balance by a signed amount in micro-units (-500 takes 500); never below 0')
    .requiredOption('--reference <ref>', 'your reference for this correction')
    .option('--note <text>', 'why')
    .action(
      async (
        accountId: string,
        amount: string,
        opts: { reference: string; note?: string },
        command: Command,
      ) =>
        withServices(command, async (ctx) =>
          print(
            await adjustBalance(ctx, accountId, {
              amount: integer(amount),
              reference: opts.reference,
              note: opts.note,
            }),
          ),
        ),
    );
  wallet
    .command('balance <account_id>')
    .description('balance, held funds and low-balance threshold')
    .action(async (accountId: string, _opts, command: Command) =>
      withServices(command, async (ctx) => print(await getBalance(ctx, accountId))),
    );
  wallet
    .command('threshold <account_id> <amount>')
    .description('balance.low fires when the balance falls below this (micro-units; 0 = never)')
    .action(async (accountId: string, amount: string, _opts, command: Command) =>
      withServices(command, async (ctx) => print(await setThreshold(ctx, accountId, integer(amount)))),
    );
  wallet
    .command('ledger <account_id>')
    .description('ledger entries, newest first')
    .option('--type <type>', `one of ${LEDGER_TYPES.join(', ')}`, oneOf(LEDGER_TYPES))
    .option('--limit <n>', 'how many', integer, 100)
    .option('--cursor <id>', 'next_cursor of the previous page')
    .action(
      async (
        accountId: string,
        opts: { type?: LedgerType; limit: number; cursor?: string },
        command: Command,
      ) => withServices(command, async (ctx) => print(await listLedger(ctx, accountId, opts))),
    );
  wallet
    .command('settings')
    .description('show the wallet settings, or change those given')
    .option('--capture-on <outcome>', `one of ${CAPTURE_ON.join(', ')}`, oneOf(CAPTURE_ON))
    .option('--capture-after <seconds>', 'how long a sent message may wait for its receipt', integer)
    .option('--when-no-receipt <action>', `then: one of ${NO_RECEIPT.join(', ')}`, oneOf(NO_RECEIPT))
    .option('--trial-otps <n>', 'free OTPs for new accounts', integer)
    .action(
      async (
        opts: {
          captureOn?: (typeof CAPTURE_ON)[number];
          captureAfter?: number;
          whenNoReceipt?: (typeof NO_RECEIPT)[number];
          trialOtps?: number;
        },
        command: Command,
      ) =>
        withServices(command, async (ctx) => {
          const changes = {
            ...(opts.captureOn !== undefined ? { capture_on: opts.captureOn } : {}),
            ...(opts.captureAfter !== undefined ? { capture_after: opts.captureAfter } : {}),
            ...(opts.whenNoReceipt !== undefined ? { no_receipt: opts.whenNoReceipt } : {}),
            ...(opts.trialOtps !== undefined ? { trial_otps: opts.trialOtps } : {}),
          };
          print(
            Object.keys(changes).length > 0
              ? await changeWalletSettings(ctx, changes)
              : await getWalletSettings(ctx),
          );
        }),
    );

  const prices = program
    .command('prices')
    .description('the price table (micro-units per message, per SMS segment)');
  prices
    .command('set <channel> <country> <price>')
    .description('set the price of a channel to a country (ISO code, or * for every other country)')
    .option('--currency <code>', 'the currency of the accounts that pay it', 'USD')
    .action(
      async (channel: string, country: string, price: string, opts: { currency: string }, command: Command) =>
        withServices(command, async (ctx) =>
          print(
            await setPrice(ctx, {
              currency: opts.currency,
              channel: oneOf(CHANNELS)(channel) as Channel,
              country,
              price: integer(price),
            }),
          ),
        ),
    );
  prices
    .command('list')
    .option('--currency <code>', 'only this currency')
    .action(async (opts: { currency?: string }, command: Command) =>
      withServices(command, async (ctx) => print(await listPriceTable(ctx, opts.currency))),
    );
  prices
    .command('delete <channel> <country>')
    .description('remove a price (the * price, or nothing, applies again)')
    .option('--currency <code>', 'its currency', 'USD')
    .action(async (channel: string, country: string, opts: { currency: string }, command: Command) =>
      withServices(command, async (ctx) => {
        await removePrice(ctx, { currency: opts.currency, channel: oneOf(CHANNELS)(channel), country });
        print({ deleted: true });
      }),
    );
}
