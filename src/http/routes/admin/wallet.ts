import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Context } from '../../../context.js';
import { getAccount } from '../../../tenancy/accounts.js';
import { refundCharge } from '../../../wallet/charges.js';
import { adjustBalance, getBalance, listLedger, setThreshold, topUp } from '../../../wallet/ledger.js';
import { listPriceTable, MAX_PRICE, removePrice, setPrice } from '../../../wallet/prices.js';
import { CAPTURE_ON, changeWalletSettings, getWalletSettings, NO_RECEIPT } from '../../../wallet/settings.js';
import { Nullable, ok, PageOf, PageQuery, responses } from '../../envelope.js';
import { Channel, Timestamp } from '../../schemas.js';
import { BalanceRecord, LedgerEntryRecord, LedgerType, PriceRecord } from '../v1/wallet.js';

/** Whole micro-units; JavaScript numbers stay exact up to 2^53 (about 9 × 10^15). */
const MAX_MONEY = 1_000_000_000_000_000;
const IdParams = Type.Object({ id: Type.String({ maxLength: 64 }) });
const Reference = Type.String({
  minLength: 1,
  maxLength: 128,
  description:
    'Your reference (payment id); the same reference again credits nothing and answers the first entry',
});
const Note = Type.String({ maxLength: 500 });
const Currency = Type.String({ pattern: '^[A-Za-z]{3,5}$', description: 'Default USD' });
const PriceCountry = Type.String({ pattern: '^([A-Za-z]{2}|\\*)$', description: 'ISO 3166-1 alpha-2, or *' });

const Settings = Type.Object(
  {
    capture_on: Type.Union(
      CAPTURE_ON.map((c) => Type.Literal(c)),
      {
        description: 'The outcome that captures a hold',
      },
    ),
    capture_after: Type.Integer({
      minimum: 60,
      maximum: 2_592_000,
      description: 'Seconds a sent message may wait for its receipt',
    }),
    no_receipt: Type.Union(
      NO_RECEIPT.map((c) => Type.Literal(c)),
      {
        description: 'What settles the hold of a message with no receipt after capture_after',
      },
    ),
    trial_otps: Type.Integer({
      minimum: 0,
      maximum: 100_000,
      description: "Free OTPs for new accounts (credit at the currency's sms * price)",
    }),
  },
  { additionalProperties: false },
);

/** Top-ups, adjustments, refunds, the price table and the wallet settings. */
export const adminWalletRoutes =
  (ctx: Context): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.post(
      '/accounts/:id/topups',
      {
        schema: {
          tags: ['Admin'],
          summary: "Credit a payment to an account's wallet (idempotent on reference)",
          params: IdParams,
          body: Type.Object(
            {
              amount: Type.Integer({ minimum: 1, maximum: MAX_MONEY, description: 'micro-units' }),
              reference: Reference,
              note: Type.Optional(Note),
            },
            { additionalProperties: false },
          ),
          response: responses(201, LedgerEntryRecord),
        },
      },
      async (request, reply) =>
        reply.code(201).send(ok(request.id, await topUp(ctx, request.params.id, request.body))),
    );

    app.post(
      '/accounts/:id/adjustments',
      {
        schema: {
          tags: ['Admin'],
          summary: 'Correct a balance by a signed amount (idempotent on reference; never below 0)',
          params: IdParams,
          body: Type.Object(
            {
              amount: Type.Integer({
                minimum: -MAX_MONEY,
                maximum: MAX_MONEY,
                description: 'micro-units, negative to take; not 0',
              }),
              reference: Reference,
              note: Type.Optional(Note),
            },
            { additionalProperties: false },
          ),
          response: responses(201, LedgerEntryRecord),
        },
      },
      async (request, reply) =>
        reply.code(201).send(ok(request.id, await adjustBalance(ctx, request.params.id, request.body))),
    );

    app.get(
      '/accounts/:id/wallet',
      {
        schema: {
          tags: ['Admin'],
          summary: "An account's balance, held funds and low-balance threshold",
          params: IdParams,
          response: responses(200, BalanceRecord),
        },
      },
      async (request) => ok(request.id, await getBalance(ctx, request.params.id)),
    );

    app.patch(
      '/accounts/:id/wallet',
      {
        schema: {
          tags: ['Admin'],
          summary: "Set an account's low-balance threshold",
          params: IdParams,
          body: Type.Object(
            {
              low_balance_threshold: Type.Integer({
                minimum: 0,
                maximum: MAX_MONEY,
                description: 'micro-units; 0 = never',
              }),
            },
            { additionalProperties: false },
          ),
          response: responses(200, BalanceRecord),
        },
      },
      async (request) =>
        ok(request.id, await setThreshold(ctx, request.params.id, request.body.low_balance_threshold)),
    );

    app.get(
      '/accounts/:id/ledger',
      {
        schema: {
          tags: ['Admin'],
          summary: "An account's ledger, newest first",
          params: IdParams,
          querystring: Type.Object(
            { type: Type.Optional(LedgerType), ...PageQuery },
            { additionalProperties: false },
          ),
          response: responses(200, PageOf(LedgerEntryRecord)),
        },
      },
      async (request) => {
        await getAccount(ctx, request.params.id);
        return ok(
          request.id,
          await listLedger(ctx, request.params.id, {
            type: request.query.type,
            cursor: request.query.cursor,
            limit: request.query.limit ?? 20,
          }),
        );
      },
    );

    app.post(
      '/messages/:id/refund',
      {
        schema: {
          tags: ['Admin'],
          summary: "Give a message's captured charge back to its account (idempotent)",
          params: IdParams,
          body: Type.Object({ note: Type.Optional(Note) }, { additionalProperties: false }),
          response: responses(201, LedgerEntryRecord),
        },
      },
      async (request, reply) =>
        reply.code(201).send(ok(request.id, await refundCharge(ctx, request.params.id, request.body))),
    );

    app.get(
      '/prices',
      {
        schema: {
          tags: ['Admin'],
          summary: 'The price table',
          querystring: Type.Object({ currency: Type.Optional(Currency) }, { additionalProperties: false }),
          response: responses(200, Type.Object({ items: Type.Array(PriceRecord) })),
        },
      },
      async (request) => ok(request.id, { items: await listPriceTable(ctx, request.query.currency) }),
    );

    app.put(
      '/prices',
      {
        schema: {
          tags: ['Admin'],
          summary: 'Set the price of a channel to a country (or * for every other country)',
          description:
            'Micro-units per message, per segment for SMS. Applies to messages queued from now on.',
          body: Type.Object(
            {
              currency: Type.Optional(Currency),
              channel: Channel,
              country: PriceCountry,
              price: Type.Integer({ minimum: 0, maximum: MAX_PRICE, description: 'micro-units per unit' }),
            },
            { additionalProperties: false },
          ),
          response: responses(200, PriceRecord),
        },
      },
      async (request) => ok(request.id, await setPrice(ctx, request.body)),
    );

    app.delete(
      '/prices/:currency/:channel/:country',
      {
        schema: {
          tags: ['Admin'],
          summary: 'Remove a price (the * price, or nothing, applies again)',
          params: Type.Object(
            { currency: Currency, channel: Channel, country: PriceCountry },
            { additionalProperties: false },
          ),
          response: responses(200, Type.Object({ deleted: Type.Literal(true) })),
        },
      },
      async (request) => {
        await removePrice(ctx, request.params);
        return ok(request.id, { deleted: true as const });
      },
    );

    app.get(
      '/wallet/settings',
      {
        schema: {
          tags: ['Admin'],
          summary:
            'Wallet settings: when holds are captured, what settles a message with no receipt, trial OTPs',
          response: responses(
            200,
            Type.Composite([Settings, Type.Object({ updated_at: Nullable(Timestamp) })]),
          ),
        },
      },
      async (request) => ok(request.id, await getWalletSettings(ctx)),
    );

    app.patch(
      '/wallet/settings',
      {
        schema: {
          tags: ['Admin'],
          summary: 'Change wallet settings (every process follows at once)',
          body: Type.Partial(Settings),
          response: responses(
            200,
            Type.Composite([Settings, Type.Object({ updated_at: Nullable(Timestamp) })]),
          ),
        },
      },
      async (request) => ok(request.id, await changeWalletSettings(ctx, request.body)),
    );
  };
